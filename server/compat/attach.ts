import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket as EngineSocket } from 'engine.io';
import WebSocket, { WebSocketServer } from 'ws';
import type { ErrorCode } from '../../shared/errors';
import { createOriginCheck } from '../auth/origins';
import type { TokenVerifier } from '../auth/verify';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { GatewayServer } from '../types';
import { NativeConnection, type BridgeDeps } from './connection';
import { CloseCodes, type UpgradeInfo } from './dialect';
import { nativeEndpoints, type Endpoint } from './endpoints';
import { closeReason } from './frames';
import { OutgoingCache } from './outgoing-cache';

export interface NativeEndpointsOptions {
  readonly io: GatewayServer;
  readonly httpServer: HttpServer;
  readonly config: Config;
  readonly logger: Logger;
  readonly verify: TokenVerifier;
  readonly metrics?: { errorSent(code: ErrorCode): void };
}

/**
 * Engine.IO serves the upgrades whose URL starts with this prefix (its own test: the path it was
 * given, plus a slash, as a prefix of the raw URL). Every other upgrade is answered here, unknown
 * paths with 404: the gateway turns off Engine.IO's fallback for them (gateway.ts), which would
 * otherwise hold each native connection's socket in a one-second timer.
 */
const ENGINE_PREFIX = '/socket.io/';

/** Engine.io's registry of connections (protected in its typings). */
interface EngineRegistry {
  clients: Record<string, EngineSocket>;
  clientsCount: number;
  emit(event: 'connection', socket: EngineSocket): boolean;
}

/** Whether an upgrade is Engine.IO's (answered by its own listener), read without parsing the query. */
function isEngineUpgrade(url: string): boolean {
  return url.startsWith(ENGINE_PREFIX);
}

function splitUrl(url: string): { pathname: string; query: URLSearchParams } {
  const q = url.indexOf('?');
  return q === -1 ? { pathname: url, query: new URLSearchParams() } : { pathname: url.slice(0, q), query: new URLSearchParams(url.slice(q + 1)) };
}

/**
 * Serves the native WebSocket endpoints on the gateway's HTTP server: one `upgrade` listener (the
 * Socket.IO path stays engine.io's), a `ws` server without its own registry, and for each accepted
 * connection a NativeConnection registered in engine.io exactly like a Socket.IO client. Refusals
 * complete the upgrade and close before any data: 1001 while shutting down, 1008 for a refused
 * origin or a bad token, 1013 at capacity (MAX_CONNECTIONS). Returns the dispose the gateway calls
 * first on shutdown: no more upgrades, and native connections then close with 1001.
 */
export function attachNativeEndpoints(options: NativeEndpointsOptions): () => void {
  const { io, httpServer, config, logger, verify } = options;
  const log = logger.child({ module: 'native' });
  const resolve = nativeEndpoints(config);
  const originAllowed = createOriginCheck(config.allowedOrigins);
  // Frames up to the message limit are served; larger ones up to this cap get MESSAGE_TOO_LARGE
  // and close 1009; beyond it `ws` closes with 1009 without reading them.
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: Math.max(1 << 20, config.maxMessageBytes * 4),
  });
  const engine = io.engine as unknown as EngineRegistry;
  let goingAway = false;
  const errorSent = options.metrics ? (code: ErrorCode) => options.metrics!.errorSent(code) : undefined;
  const deps: BridgeDeps = { io, config, logger, verify, cache: new OutgoingCache(), goingAway: () => goingAway, errorSent };

  const refuse = (ws: WebSocket, code: number, reason: string, endpoint: Endpoint, address?: string) => {
    log.info('native connection refused', { endpoint: endpoint.dialect.name, code, reason, address });
    ws.close(code, closeReason(reason));
  };

  const accept = (ws: WebSocket, req: IncomingMessage, endpoint: Endpoint, query: URLSearchParams) => {
    ws.on('error', (err) => log.debug('native websocket error', { error: err.message }));
    const address = req.socket.remoteAddress;
    if (goingAway) return refuse(ws, CloseCodes.GOING_AWAY, 'Server shutting down', endpoint, address);
    if (!originAllowed(req.headers.origin)) return refuse(ws, CloseCodes.POLICY, 'Origin not allowed', endpoint, address);
    if (config.maxConnections > 0 && engine.clientsCount >= config.maxConnections) {
      return refuse(ws, CloseCodes.TRY_AGAIN_LATER, 'Server at capacity, try again later', endpoint, address);
    }
    const { dialect } = endpoint;
    const info: UpgradeInfo = { query, headers: req.headers, params: endpoint.params };
    const { token, context = {} } = dialect.handshake?.(info) ?? {};
    // The token itself is verified once, by the namespace's auth middleware: a refusal there comes
    // back as CONNECT_ERROR and closes 1008 before the dialect sends anything.
    if (dialect.tokenSource === 'handshake' && token === undefined) {
      return refuse(ws, CloseCodes.POLICY, 'Missing token', endpoint, address);
    }
    const id = randomBytes(15).toString('base64url');
    const conn = new NativeConnection(id, ws, req, Object.fromEntries(query), dialect, deps, context, endpoint.exclusiveScope);
    engine.clients[id] = conn.engine;
    engine.clientsCount++;
    conn.engine.once('close', () => {
      delete engine.clients[id];
      engine.clientsCount--;
    });
    engine.emit('connection', conn.engine);
    conn.start(token);
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = req.url ?? '/';
    // Every Socket.IO connect passes here: its query is Engine.IO's business, left unparsed.
    if (isEngineUpgrade(url)) return;
    const { pathname, query } = splitUrl(url);
    const endpoint = resolve(pathname);
    if (!endpoint) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req, endpoint, query));
  };
  httpServer.on('upgrade', onUpgrade);

  return () => {
    goingAway = true;
    httpServer.off('upgrade', onUpgrade);
    wss.close();
  };
}
