import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import express from 'express';
import { Server } from 'socket.io';
import { AllNamespaces } from '../shared/namespaces';
import { authMiddleware } from './auth/middleware';
import { createOriginCheck } from './auth/origins';
import { createTokenVerifier } from './auth/verify';
import { PodActivity } from './cluster/activity';
import { connectRedis, type RedisConnections } from './cluster/redis';
import { ClusterStats } from './cluster/stats';
import { createStores, type Stores } from './cluster/stores';
import { attachNativeEndpoints } from './compat/attach';
import type { Config } from './config';
import { Dispatcher, frameSizeRecorder } from './dispatch';
import { features } from './features';
import type { Dispose, FeatureContext } from './handlers/context';
import { adminRouter } from './http/admin';
import { healthRouter } from './http/health';
import { createLogger, type Logger } from './logger';
import { RoomBroadcaster, userRoom } from './rooms';
import type { GatewayServer, GatewaySocket, PodStats } from './types';

export interface Gateway {
  readonly config: Config;
  readonly httpServer: HttpServer;
  readonly io: GatewayServer;
  readonly stores: Stores;
  readonly logger: Logger;
  /** The port actually bound (useful with PORT=0). */
  readonly port: number;
  /** Stops accepting, tells clients to reconnect elsewhere, cleans presence, closes Redis. */
  close(): Promise<void>;
}

const AUTHENTICATED = Symbol('authenticated');

/** The composition root: builds and starts one pod. */
export async function createGateway(config: Config, options: { logger?: Logger } = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config);
  const log = logger.child({ module: 'gateway' });
  const startedAt = Date.now();
  let shuttingDown = false;
  let authenticated = 0;

  const redis: RedisConnections | undefined = config.redisUrl ? await connectRedis(config.redisUrl, logger) : undefined;
  const stores = createStores(config, redis, logger);
  const verify = createTokenVerifier(config.jwt);
  const originAllowed = createOriginCheck(config.allowedOrigins);
  const activity = new PodActivity();

  const app = express();
  app.disable('x-powered-by');
  const httpServer = createServer(app);
  const io: GatewayServer = new Server(httpServer, {
    path: '/socket.io',
    allowEIO3: true,
    serveClient: false,
    pingInterval: config.pingIntervalMs,
    pingTimeout: config.pingTimeoutMs,
    // The transport limit sits well above the message limit, so an oversized message gets a
    // MESSAGE_TOO_LARGE answer and the connection stays up; only absurd frames close it.
    maxHttpBufferSize: Math.max(1_000_000, config.maxMessageBytes * 4),
    cors: { origin: (origin, cb) => cb(null, originAllowed(origin)), credentials: true },
    allowRequest: (req, cb) => cb(null, originAllowed(req.headers.origin)),
  });
  if (redis) io.adapter(createAdapter(redis.pub, redis.sub, { requestsTimeout: config.statsTimeoutMs }));
  // Native WebSocket clients of the seed protocols become Socket.IO sockets of `/` (server/compat).
  const closeNativeEndpoints = attachNativeEndpoints({ io, httpServer, config, logger, verify });

  const recordFrameSize = frameSizeRecorder(config.maxMessageBytes);
  io.engine.on('connection', (conn) => {
    conn.prependListener('data', recordFrameSize);
    conn.once('close', () => {
      if ((conn as { [AUTHENTICATED]?: boolean })[AUTHENTICATED]) authenticated--;
    });
  });

  const localStats = (): PodStats => ({
    pod: config.podId,
    connections: io.engine.clientsCount,
    authenticated,
    uptimeSeconds: (Date.now() - startedAt) / 1000,
    activity: activity.snapshot(),
  });
  const stats = new ClusterStats(io, Boolean(redis), localStats);

  const dispatcher = new Dispatcher(config, logger, activity);
  const guard = {
    verify,
    maxConnections: config.maxConnections,
    connectionCount: () => io.engine.clientsCount,
    accepted: (socket: GatewaySocket) => {
      const conn = socket.conn as unknown as { [AUTHENTICATED]?: boolean };
      if (!conn[AUTHENTICATED]) {
        conn[AUTHENTICATED] = true;
        authenticated++;
      }
    },
  };
  const auth = authMiddleware(guard, logger);
  const connLog = logger.child({ module: 'connections' });
  // Decided once: winston formats a line before its transport drops it for its level, which a
  // connect storm would pay for every connection.
  const logConnections = logger.isLevelEnabled('info');
  function onDisconnect(this: GatewaySocket, reason: string) {
    connLog.info('disconnected', { socket_id: this.id, user_id: this.data.principal.userId, reason });
  }
  for (const name of AllNamespaces) {
    const nsp = io.of(name);
    nsp.use(auth);
    nsp.on('connection', (socket) => {
      socket.join(userRoom(socket.data.principal.userId));
      if (!logConnections) return;
      connLog.info('connected', { socket_id: socket.id, user_id: socket.data.principal.userId, namespace: name });
      socket.once('disconnect', onDisconnect);
    });
    dispatcher.attach(nsp);
  }

  const ctx: FeatureContext = {
    io,
    stores,
    logger,
    config,
    rooms: new RoomBroadcaster(io, activity),
    activity,
    handle: (type, handler, options) => dispatcher.handle(type, handler as never, options),
    onDisconnect: (listener) => dispatcher.onDisconnect(listener),
  };
  const disposers: Dispose[] = [];
  for (const feature of features) {
    const dispose = feature(ctx);
    if (dispose) disposers.push(dispose);
  }

  app.use(
    healthRouter({
      podId: config.podId,
      startedAt,
      redisState: () => (redis ? (redis.ready() ? 'connected' : 'disconnected') : 'disabled'),
      shuttingDown: () => shuttingDown,
      connections: () => io.engine.clientsCount,
    }),
  );
  app.use(adminRouter({ verify, stats, presence: stores.presence, cells: stores.cells }));

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  log.info('gateway listening', { port, host: config.host, pod: config.podId, redis: Boolean(redis) });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      shuttingDown = true;
      closeNativeEndpoints(); // no new native upgrades; native connections now close with 1001
      log.info('shutting down', { connections: io.engine.clientsCount });
      const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      // Closing the transport (not a Socket.IO disconnect) makes clients reconnect, to another pod.
      const engineClients = (io.engine as unknown as { clients: Record<string, { close(): void }> }).clients;
      for (const conn of Object.values(engineClients)) conn.close();
      await dispatcher.drain();
      for (const dispose of disposers.reverse()) await dispose();
      await stores.presence.close().catch((err) => log.warn('presence cleanup failed', { error: String(err) }));
      io.close();
      await stopped;
      await redis?.close();
      log.info('stopped');
    })());

  return { config, httpServer, io, stores, logger, port, close };
}
