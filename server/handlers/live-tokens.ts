import { ErrorCodes, GatewayError } from '../../shared/errors';
import type { Principal } from '../auth/principal';
import type { GatewaySocket } from '../types';
import type { Feature } from './context';

/** setTimeout's longest delay; a later expiry is re-checked after it. */
const MAX_DELAY = 2 ** 31 - 1;

interface Timers {
  warn?: NodeJS.Timeout;
  expire?: NodeJS.Timeout;
}

/** The sockets of one connection: a Socket.IO client's namespaces share its token. */
function connectionSockets(socket: GatewaySocket): GatewaySocket[] {
  const client = (socket as unknown as { client?: { sockets?: Map<string, GatewaySocket> } }).client;
  return client?.sockets ? [...client.sockets.values()] : [socket];
}

/**
 * Tokens stay valid on live connections only while they are valid (their `exp`):
 * TOKEN_EXPIRY_WARNING_MS before expiry the socket gets `token_expiring {expires_at,
 * expires_in_ms}`; a `refresh_token {token}` with a fresh token for the same user (native seeds:
 * their `auth` message, which the bridge turns into refresh_token) moves the expiry; at expiry
 * the connection is closed with AUTHENTICATION_FAILED "Token expired" (native: 1008). A guard
 * refuses messages of an expired token in the moment before its timer fires.
 */
export const registerLiveTokens: Feature = (ctx) => {
  const timers = new WeakMap<GatewaySocket, Timers>();
  const warnMs = ctx.config.tokenExpiryWarningMs;

  const clear = (socket: GatewaySocket) => {
    const t = timers.get(socket);
    if (!t) return;
    clearTimeout(t.warn);
    clearTimeout(t.expire);
    timers.delete(socket);
  };

  const expire = (socket: GatewaySocket) => {
    const expiresAt = socket.data.principal.expiresAt;
    if (expiresAt === undefined || socket.disconnected) return;
    if (expiresAt > Date.now()) return schedule(socket); // refreshed, or a far expiry re-checked
    ctx.metrics.tokenExpired();
    ctx.disconnect(socket, new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'Token expired'));
  };

  const schedule = (socket: GatewaySocket) => {
    clear(socket);
    const expiresAt = socket.data.principal.expiresAt;
    if (expiresAt === undefined) return;
    const now = Date.now();
    const t: Timers = {};
    const warnAt = expiresAt - warnMs;
    if (warnMs > 0 && warnAt - now < MAX_DELAY) {
      t.warn = setTimeout(() => {
        if (socket.connected) socket.emit('token_expiring', { expires_at: new Date(expiresAt).toISOString(), expires_in_ms: Math.max(0, expiresAt - Date.now()) });
      }, Math.max(0, warnAt - now));
      t.warn.unref();
    }
    t.expire = setTimeout(() => expire(socket), Math.min(MAX_DELAY, Math.max(0, expiresAt - now)));
    t.expire.unref();
    timers.set(socket, t);
  };

  ctx.onConnect(schedule);
  ctx.onDisconnect(clear);

  ctx.guard({
    name: 'token',
    check({ socket, type }) {
      const expiresAt = socket.data.principal.expiresAt;
      if (expiresAt !== undefined && expiresAt <= Date.now() && type !== 'refresh_token') {
        throw new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'Token expired: send refresh_token with a fresh token');
      }
    },
  });

  ctx.handle('refresh_token', ({ token }, call) => {
    const principal: Principal = ctx.verify(token);
    if (principal.userId !== call.principal.userId) {
      throw new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'Token is for another user');
    }
    for (const socket of connectionSockets(call.socket)) {
      socket.data.principal = principal;
      if (timers.has(socket) || socket === call.socket) schedule(socket);
    }
    call.log.debug('token refreshed', { expires_at: principal.expiresAt });
    return { user_id: principal.userId, expires_at: principal.expiresAt === undefined ? null : new Date(principal.expiresAt).toISOString() };
  });
};
