import { instrument } from '@socket.io/admin-ui';
import type { Server } from 'socket.io';
import { AllNamespaces } from '../../shared/namespaces';
import { toGatewayError } from '../../shared/errors';
import { describeSocket, type AdminUiSocket } from '../admin-ui/describe';
import { cheapEngineStats } from '../admin-ui/engine-stats';
import { adminUiPage } from '../admin-ui/page';
import { connectError } from '../auth/middleware';
import { checkAdmin } from '../http/admin';
import type { Feature } from './context';

export const ADMIN_UI_NAMESPACE = '/admin';

/** How long live socket events flow after an admin UI was last seen connected (it re-announces at half). */
const WATCH_MS = 60_000;

const WRITE_FEATURES = ['EMIT', 'JOIN', 'LEAVE', 'DISCONNECT', 'MJOIN', 'MLEAVE', 'MDISCONNECT'];

/**
 * The Socket.IO admin UI (@socket.io/admin-ui): its page at /admin (served here, no CDN) and its
 * `/admin` namespace, for an admin JWT or ADMIN_API_KEY given as the page's password (any user
 * name). Read-only in production unless ADMIN_UI_WRITE=true.
 *
 * The package runs in its "production" mode (aggregated figures), never its "development" one,
 * which wraps every socket's `data` in proxies (breaking the gateway's per-socket Sets and Maps,
 * and with them the disconnect cleanup) and sends handshake headers, query and data as they are
 * (tokens included). What development mode adds, this module does itself: the socket list, asked of
 * every pod, and live connect, disconnect, join and leave events, each socket described without
 * credentials (server/admin-ui/describe.ts). Live events cost nothing until an admin UI connects:
 * they flow for a minute after one was last seen on any pod. The package's per-packet Engine.IO
 * listeners are replaced by cheaper figures (server/admin-ui/engine-stats.ts).
 */
export const registerAdminUi: Feature = (ctx) => {
  const io = ctx.io as unknown as Server;
  const pod = ctx.config.podId;
  const readonly = ctx.config.env === 'production' && !ctx.config.adminUi.write;
  const log = ctx.logger.child({ module: 'admin-ui' });
  let watchedUntil = 0;
  const watched = () => Date.now() < watchedUntil;
  const stopEngineStats = cheapEngineStats(
    io,
    () => instrument(io, { auth: false, readonly, mode: 'production', serverId: pod, namespaceName: ADMIN_UI_NAMESPACE }),
    watched,
  );
  // Untyped: the admin UI's own events are not in the gateway's catalogue.
  const admin = io.of(ADMIN_UI_NAMESPACE);

  admin.use((socket, next) => {
    const { username, password, token } = socket.handshake.auth as { username?: unknown; password?: unknown; token?: unknown };
    const secret = typeof password === 'string' && password ? password : typeof token === 'string' ? token : undefined;
    try {
      // The page's password field takes either: an API key is not a JWT (no dots).
      checkAdmin(ctx.verify, ctx.config.publishing.adminApiKey, secret && !secret.includes('.') ? { apiKey: secret } : { token: secret });
      next();
    } catch (err) {
      log.warn('admin UI login refused', { socket_id: socket.id, username: typeof username === 'string' ? username.slice(0, 64) : undefined });
      next(connectError(toGatewayError(err)));
    }
  });

  const onWatch = () => (watchedUntil = Date.now() + WATCH_MS);
  ctx.io.on('gateway:admin_ui_watch', onWatch);
  const announce = () => {
    onWatch();
    if (ctx.clustered) ctx.io.serverSideEmit('gateway:admin_ui_watch');
  };
  const reannounce = setInterval(() => admin.sockets.size > 0 && announce(), WATCH_MS / 2);
  reannounce.unref();

  const localSockets = (): AdminUiSocket[] => {
    const out: AdminUiSocket[] = [];
    for (const name of AllNamespaces) for (const socket of ctx.io.of(name).sockets.values()) out.push(describeSocket(socket, pod));
    return out;
  };
  const onList = (reply: (sockets: AdminUiSocket[]) => void) => reply(localSockets());
  ctx.io.on('gateway:admin_ui_sockets', onList);
  const allSockets = async (): Promise<AdminUiSocket[]> => {
    if (!ctx.clustered) return localSockets();
    const others = await ctx.io
      .serverSideEmitWithAck('gateway:admin_ui_sockets')
      .catch((err: { responses?: AdminUiSocket[][] }) => err.responses ?? []);
    return [...localSockets(), ...others.flat()];
  };

  admin.on('connection', (socket) => {
    announce();
    // After the package's own `config` (registered first): the page then lists sockets and events.
    socket.emit('config', { supportedFeatures: [...(readonly ? [] : WRITE_FEATURES), 'AGGREGATED_EVENTS', 'ALL_EVENTS'] });
    allSockets().then(
      (sockets) => socket.emit('all_sockets', sockets),
      (err) => log.warn('admin UI socket list failed', { error: String(err) }),
    );
  });

  ctx.onConnect((socket) => {
    if (watched()) admin.emit('socket_connected', describeSocket(socket, pod), new Date());
  });
  ctx.onDisconnect((socket) => {
    if (watched()) admin.emit('socket_disconnected', socket.nsp.name, socket.id, 'disconnect', new Date());
  });
  const roomListeners: Array<() => void> = [];
  for (const name of AllNamespaces) {
    const adapter = ctx.io.of(name).adapter;
    const joined = (room: string, id: string) => watched() && admin.emit('room_joined', name, room, id, new Date());
    const left = (room: string, id: string) => watched() && admin.emit('room_left', name, room, id, new Date());
    adapter.on('join-room', joined);
    adapter.on('leave-room', left);
    roomListeners.push(() => {
      adapter.off('join-room', joined);
      adapter.off('leave-room', left);
    });
  }

  ctx.http.use(adminUiPage());

  return () => {
    clearInterval(reannounce);
    stopEngineStats();
    ctx.io.off('gateway:admin_ui_watch', onWatch);
    ctx.io.off('gateway:admin_ui_sockets', onList);
    for (const off of roomListeners) off();
  };
};
