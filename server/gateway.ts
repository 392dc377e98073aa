import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { Router } from 'express';
import helmet from 'helmet';
import { Server } from 'socket.io';
import { clientMessages } from '../shared/catalogue';
import { AllNamespaces } from '../shared/namespaces';
import { clientAddressResolver, expressTrustProxy } from './auth/client-address';
import { authMiddleware } from './auth/middleware';
import { createOriginCheck } from './auth/origins';
import { createTokenVerifier } from './auth/verify';
import { PodActivity } from './cluster/activity';
import { ConnectionControl } from './cluster/control';
import { createLimits, type Limits } from './cluster/limits';
import { connectRedis, type RedisConnections } from './cluster/redis';
import { ClusterStats } from './cluster/stats';
import { createStores, type Stores } from './cluster/stores';
import { attachNativeEndpoints } from './compat/attach';
import type { Config } from './config';
import { socketConnectionInfo } from './connection-info';
import { closeForShutdown, disconnectWith, FLUSH_BEFORE_CLOSE_MS } from './disconnect';
import { Dispatcher, frameSizeRecorder } from './dispatch';
import { ConnectionTracker, drainConnections } from './drain';
import { features } from './features';
import type { Dispose, FeatureContext } from './handlers/context';
import { adminRouter, requireAdmin } from './http/admin';
import { healthRouter } from './http/health';
import { metricsRouter, startMetricsServer } from './http/metrics';
import { createLogger, type Logger } from './logger';
import { GatewayMetrics } from './metrics';
import { RoomBroadcaster } from './rooms';
import { dropVolatile, watchBackedUp, watchSlowConsumers } from './slow-consumers';
import { enableFastBroadcast } from './fast-broadcast';
import { coalesceEngineUpgradeWrites, skipMiddlewaresOnUpgrade } from './engine-upgrades';
import type { GatewayServer, GatewaySocket, PodStats } from './types';

export interface Gateway {
  readonly config: Config;
  readonly httpServer: HttpServer;
  readonly io: GatewayServer;
  readonly stores: Stores;
  readonly limits: Limits;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /** The port actually bound (useful with PORT=0). */
  readonly port: number;
  /** The port /metrics is served on when METRICS_PORT is set. */
  readonly metricsPort?: number;
  /**
   * Stops the pod: reports not ready and refuses new connections at once, drains calls in flight,
   * closes the connections spread over DRAIN_MS (their clients reconnect elsewhere), cleans
   * presence, closes Redis and the HTTP server.
   */
  close(): Promise<void>;
  /** Resolves when a stop begins, whoever starts it (SIGTERM, the admin API). */
  readonly stopping: Promise<void>;
  /** Resolves once the pod has stopped, whoever started the stop (SIGTERM, the admin API). */
  readonly closed: Promise<void>;
}

const AUTHENTICATED = Symbol('authenticated');

/** Headers helmet would give an Express response, for engine.io's own (polling) responses. */
const ENGINE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'SAMEORIGIN',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

/** The smallest frame limit of any message type: frames up to it are measured cheaply. */
function smallestFrameLimit(config: Config): number {
  let min = config.maxMessageBytes;
  for (const def of Object.values(clientMessages)) if ('maxBytes' in def && typeof def.maxBytes === 'number') min = Math.min(min, def.maxBytes);
  return min;
}

/** The composition root: builds and starts one pod. */
export async function createGateway(config: Config, options: { logger?: Logger } = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config);
  const log = logger.child({ module: 'gateway' });
  const startedAt = Date.now();
  let shuttingDown = false;
  let authenticated = 0;

  const verify = createTokenVerifier(config.jwt);
  const originAllowed = createOriginCheck(config.allowedOrigins);
  const clientAddress = clientAddressResolver(config.trustProxy);
  const activity = new PodActivity();

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', expressTrustProxy(config.trustProxy));
  app.use(helmet());
  // While a stop drains, HTTP keep-alive connections (a proxy's pool) are not kept for more requests.
  app.use((_req, res, next) => {
    if (shuttingDown) res.set('Connection', 'close');
    next();
  });
  const httpServer = createServer(app);
  const tcpConnections = new ConnectionTracker(httpServer);
  const io: GatewayServer = new Server(httpServer, {
    path: '/socket.io',
    // Upgrades outside Engine.IO's path are the native endpoints' or a 404, answered at once by
    // compat/attach.ts. Engine.IO's own fallback would add a one-second timer per native connect.
    destroyUpgrade: false,
    allowEIO3: true,
    serveClient: false,
    pingInterval: config.pingIntervalMs,
    pingTimeout: config.pingTimeoutMs,
    // The transport limit sits well above the message limit, so an oversized message gets a
    // MESSAGE_TOO_LARGE answer and the connection stays up; only absurd frames close it.
    maxHttpBufferSize: Math.max(1_000_000, config.maxMessageBytes * 4),
    cors: { origin: (origin, cb) => cb(null, originAllowed(origin)), credentials: true },
    // A stopping pod takes no new Engine.IO connection (403; the client retries, elsewhere).
    allowRequest: (req, cb) => (shuttingDown ? cb('Server shutting down', false) : cb(null, originAllowed(req.headers.origin))),
  });
  skipMiddlewaresOnUpgrade(io.engine);
  coalesceEngineUpgradeWrites(io.engine, httpServer);
  // engine.io emits `headers` for every response it writes, the first of a handshake included. A
  // WebSocket upgrade's 101 has no content for these to protect: it goes without them.
  io.engine.on('headers', (headers: Record<string, string>, req: IncomingMessage) => {
    if (req.headers.upgrade === undefined) Object.assign(headers, ENGINE_SECURITY_HEADERS);
  });

  let redis: RedisConnections | undefined;
  const redisTarget = config.redisCluster ? { clusterNodes: config.redisCluster.nodes } : config.redisUrl;
  const metrics = new GatewayMetrics({ io, redisReady: redisTarget ? () => Boolean(redis?.ready()) : undefined });
  if (redisTarget) {
    redis = await connectRedis(redisTarget, logger, { publishFailed: () => metrics.adapterPublishFailed(), clientError: () => metrics.redisCommandFailed() });
    // The classic adapter on one Redis; on a Redis Cluster the sharded one (server/cluster/redis.ts).
    io.adapter(redis.adapter({ requestsTimeout: config.statsTimeoutMs }));
  }
  const stores = createStores(config, redis, logger);
  const limits = createLimits(config.limits, logger, redis ? { data: redis.data, podId: config.podId, podTtlMs: config.presence.ttlMs } : undefined);
  // Native WebSocket clients of the seed protocols become Socket.IO sockets of `/` (server/compat).
  const closeNativeEndpoints = attachNativeEndpoints({ io, httpServer, config, logger, verify, metrics });

  const recordFrameSize = frameSizeRecorder(smallestFrameLimit(config));
  // One close listener for every connection (engine.io emits `close` once per connection).
  function onConnClose(this: { [AUTHENTICATED]?: boolean }) {
    if (this[AUTHENTICATED]) authenticated--;
  }
  io.engine.on('connection', (conn) => {
    conn.prependListener('data', recordFrameSize);
    conn.on('close', onConnClose);
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
  dispatcher.observe(metrics);
  const auth = authMiddleware(
    {
      verify,
      limits,
      clientAddress,
      maxConnections: config.maxConnections,
      connectionCount: () => io.engine.clientsCount,
      admitted: (socket: GatewaySocket) => {
        (socket.conn as unknown as { [AUTHENTICATED]?: boolean })[AUTHENTICATED] = true;
        authenticated++;
      },
      refused: (code) => metrics.connectionRefused(code),
    },
    logger,
  );
  const connLog = logger.child({ module: 'connections' });
  // Decided once: winston formats a line before its transport drops it for its level, which a
  // connect storm would pay for every connection.
  const logConnections = logger.isLevelEnabled('info');
  // One function for every socket (no closure per connection: this runs for each of thousands).
  function onDisconnect(this: GatewaySocket, reason: string) {
    connLog.info('disconnected', { socket_id: this.id, user_id: this.data.principal.userId, reason });
  }
  // The connection gauge goes down with the dispatcher's disconnect listeners (its one
  // `disconnecting` listener per socket), not with a listener of its own on every socket.
  dispatcher.onDisconnect((socket) => metrics.connectionClosed(socketConnectionInfo(socket).transport, socket.nsp.name));
  for (const name of AllNamespaces) {
    const nsp = io.of(name);
    nsp.use(auth);
    nsp.on('connection', (socket) => {
      const { transport } = socketConnectionInfo(socket);
      metrics.connectionOpened(transport, name);
      if (!logConnections) return;
      connLog.info('connected', { socket_id: socket.id, user_id: socket.data.principal.userId, namespace: name, transport });
      socket.on('disconnect', onDisconnect); // emitted once per socket: no once-wrapper per socket
    });
    dispatcher.attach(nsp);
  }

  const control = new ConnectionControl(io, logger, Boolean(redis));
  const adminGuard = requireAdmin(verify, config.publishing.adminApiKey);
  const featureRoutes = Router();
  let close: () => Promise<void> = async () => undefined;
  let closedResolve: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (closedResolve = resolve));
  let stoppingResolve: () => void = () => undefined;
  const stopping = new Promise<void>((resolve) => (stoppingResolve = resolve));
  const drainListeners: Array<(timeoutMs: number) => Promise<void>> = [];
  const ctx: FeatureContext = {
    io,
    stores,
    limits,
    logger,
    config,
    rooms: new RoomBroadcaster(io, activity, limits, metrics, Boolean(redis)),
    activity,
    metrics,
    verify,
    control,
    handle: (type, handler) => dispatcher.handle(type, handler as never),
    handleCustom: (type, handler) => dispatcher.handleCustom(type, handler),
    onConnect: (listener) => dispatcher.onConnect(listener),
    onDisconnect: (listener) => dispatcher.onDisconnect(listener),
    guard: (guard) => dispatcher.guard(guard),
    observe: (observer) => dispatcher.observe(observer),
    disconnect: disconnectWith,
    onDrain: (listener) => drainListeners.push(listener),
    clustered: Boolean(redis),
    redis,
    http: featureRoutes,
    requireAdmin: adminGuard,
    stats,
    shutdown: () => void close(),
  };
  const disposers: Dispose[] = [];
  // A pod that cannot start (a feature's configuration refused, the port taken) releases what it
  // had opened: timers, Redis connections, the HTTP server.
  const failStart = async (err: unknown): Promise<never> => {
    for (const dispose of disposers.reverse()) await Promise.resolve(dispose()).catch(() => undefined);
    closeNativeEndpoints();
    io.close();
    httpServer.close();
    metrics.close();
    await redis?.close();
    throw err;
  };
  try {
    for (const feature of features) {
      const dispose = feature(ctx);
      if (dispose) disposers.push(dispose);
    }
    dispatcher.verify();
  } catch (err) {
    await failStart(err);
  }
  disposers.push(watchSlowConsumers({ io, config, logger, metrics }));
  if (config.fastBroadcast) disposers.push(enableFastBroadcast(io as unknown as Server, { dropVolatile, backedUp: watchBackedUp, logger }));

  app.use(
    healthRouter({
      podId: config.podId,
      startedAt,
      redisState: () => (redis ? (redis.ready() ? 'connected' : 'disconnected') : 'disabled'),
      shuttingDown: () => shuttingDown,
      connections: () => io.engine.clientsCount,
    }),
  );
  app.use(adminRouter({ requireAdmin: adminGuard, stats, presence: stores.presence, cells: stores.cells, control }));
  app.use(featureRoutes);
  // /metrics on the main port: with METRICS_TOKEN, or open outside production; never when
  // METRICS_PORT moves it to a port of the cluster network.
  const metricsOnMain = config.metrics.port === 0 && (config.metrics.token !== undefined || config.env !== 'production');
  app.use(metricsRouter(metrics, { token: config.metrics.token, enabled: metricsOnMain }));
  if (config.metrics.port === 0 && !metricsOnMain) log.warn('GET /metrics is off: set METRICS_TOKEN or METRICS_PORT to serve it in production');

  // A pod heartbeats before it takes connections: the per-user connection count across pods
  // ignores pods without a fresh heartbeat.
  if (redis) await stores.presence.heartbeat().catch((err) => log.warn('first presence heartbeat failed', { error: String(err) }));
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  }).catch(failStart);
  const port = (httpServer.address() as AddressInfo).port;
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  try {
    if (config.metrics.port) metricsServer = await startMetricsServer(metrics, { port: config.metrics.port, host: config.host, token: config.metrics.token });
  } catch (err) {
    await failStart(err);
  }
  log.info('gateway listening', { port, host: config.host, pod: config.podId, redis: Boolean(redis), metrics_port: metricsServer?.port });

  let closing: Promise<void> | undefined;
  close = () =>
    (closing ??= (async () => {
      // At once: /readyz answers 503 (the Service stops routing here), Engine.IO handshakes and
      // native upgrades are refused. The HTTP server keeps listening while the pod drains, so that
      // probes get their 503 and REST calls their answer.
      shuttingDown = true;
      stoppingResolve();
      closeNativeEndpoints(); // no new native upgrades; native connections close with 1001 below
      log.info('shutting down', { connections: io.engine.clientsCount, drain_ms: config.drainMs });
      // Calls in flight and streams answer their callers first (half the shutdown budget), then
      // are aborted, while the clients are still connected to hear it. New messages are refused
      // from now on ("Server shutting down: reconnect").
      const budget = Math.floor(config.shutdownTimeoutMs / 2);
      await Promise.all([
        dispatcher.drainCalls(budget),
        ...drainListeners.map((drain) => drain(budget).catch((err) => log.warn('drain failed', { error: String(err) }))),
      ]);
      // The connections close a slice at a time over DRAIN_MS, so that the other pods see a
      // bounded reconnect rate. A transport close (not a Socket.IO disconnect) makes Socket.IO
      // clients reconnect by themselves; native clients get 1001.
      const engineClients = (io.engine as unknown as { clients: Record<string, GatewaySocket['conn']> }).clients;
      await drainConnections({
        connections: () => Object.values(engineClients),
        close: closeForShutdown,
        drainMs: config.drainMs,
        settleMs: FLUSH_BEFORE_CLOSE_MS,
        logger,
      });
      const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await dispatcher.drain();
      for (const dispose of disposers.reverse()) await dispose();
      await stores.presence.close().catch((err) => log.warn('presence cleanup failed', { error: String(err) }));
      io.close();
      // Connections whose clients do not finish the closing handshake are cut after a grace period.
      await tcpConnections.closeWithin(stopped, FLUSH_BEFORE_CLOSE_MS, log);
      await metricsServer?.close();
      metrics.close();
      await redis?.close();
      log.info('stopped');
      closedResolve();
    })());

  return { config, httpServer, io, stores, limits, metrics, logger, port, metricsPort: metricsServer?.port, close, stopping, closed };
}
