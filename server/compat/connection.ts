import type { IncomingMessage } from 'node:http';
import { Socket as EngineSocket } from 'engine.io';
import WebSocket from 'ws';
import { ErrorCodes, GatewayError, toGatewayError } from '../../shared/errors';
import { setConnectionInfo } from '../connection-info';
import type { Principal } from '../auth/principal';
import type { TokenVerifier } from '../auth/verify';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { GatewayServer, GatewaySocket } from '../types';
import {
  CloseCodes,
  closeCodeFor,
  errorInfo,
  errorInfoFromBody,
  errorInfoFromEvent,
  type Dialect,
  type ErrorInfo,
  type Inbound,
  type NativeSession,
  type PendingRequest,
} from './dialect';
import { closeReason, isRecord, parseFrame } from './frames';
import type { OutgoingCache } from './outgoing-cache';
import { encodeConnect, encodeEvent, PacketType } from './packets';
import { NativeTransport, type OutgoingFrame, type PacketSink } from './transport';

/** Requests awaiting their ack, per connection; more are refused until some are answered. */
export const MAX_IN_FLIGHT = 256;
/** Frames kept while the Socket.IO handshake completes; more are refused. */
export const MAX_QUEUED = 64;

/** The pending request of a live re-authentication (its ack answers the `auth` message). */
const REFRESH = Symbol('refresh');

/** What every native connection of a gateway shares. */
export interface BridgeDeps {
  readonly io: GatewayServer;
  readonly config: Config;
  readonly logger: Logger;
  readonly verify: TokenVerifier;
  readonly cache: OutgoingCache;
  readonly goingAway: () => boolean;
  /** Counts an error the bridge answers itself (bad JSON, unknown frame shapes), outside the pipeline. */
  readonly errorSent?: (code: ErrorInfo['code']) => void;
}

type State = 'unauthenticated' | 'connecting' | 'connected' | 'closing' | 'closed';

/**
 * The bridge for one native WebSocket: it owns a NativeTransport and the engine.io socket built on
 * it, so Socket.IO sees an ordinary client in `/` (same middleware, rooms, dispatcher, presence,
 * adapter, shutdown). Incoming frames are decoded by the dialect and sent in as EVENT packets
 * (with an ack id when the dialect wants the result); the CONNECT packet carries the token the
 * dialect found. Outgoing CONNECT / CONNECT_ERROR / EVENT / ACK / DISCONNECT packets become frames
 * or closes. Frames that arrive before the handshake completes wait, in order.
 */
export class NativeConnection implements PacketSink, NativeSession {
  readonly transport: NativeTransport;
  readonly engine: EngineSocket;
  readonly context: Record<string, string>;
  connectedAt = 0;
  authenticatedByMessage = false;
  private state: State = 'unauthenticated';
  private queue: unknown[] = [];
  private readonly pending = new Map<number, PendingRequest>();
  private nextAckId = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private authTimer?: NodeJS.Timeout;
  private socket_?: GatewaySocket;
  private log: Logger;

  constructor(
    id: string,
    private readonly ws: WebSocket,
    req: IncomingMessage,
    query: Record<string, string>,
    private readonly dialect: Dialect,
    private readonly deps: BridgeDeps,
    context: Record<string, string>,
    exclusiveScope?: string,
  ) {
    this.context = { ...context };
    this.log = deps.logger.child({ module: 'native', endpoint: dialect.name, conn_id: id });
    this.transport = new NativeTransport(ws, query, this);
    const engineReq = Object.assign(req, { _query: { ...query, EIO: '4', transport: 'websocket' } });
    this.engine = new EngineSocket(id, deps.io.engine, this.transport, engineReq, 4);
    setConnectionInfo(this.engine, {
      transport: `native:${dialect.name}`,
      exclusiveScope,
      closeWith: (code, reason) => this.close(code, reason),
    });
    this.engine.once('close', () => this.cleanup());
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
  }

  get socket(): GatewaySocket {
    if (!this.socket_) throw new Error('native connection is not connected yet');
    return this.socket_;
  }

  get principal(): Principal {
    return this.socket.data.principal;
  }

  get io(): GatewayServer {
    return this.deps.io;
  }

  /** Begins the Socket.IO handshake with a token from the upgrade request, or waits for an `auth` message. */
  start(token: string | undefined): void {
    if (token !== undefined) {
      this.connect(token);
      return;
    }
    this.authTimer = setTimeout(() => {
      if (this.state === 'unauthenticated' || this.state === 'connecting') this.close(CloseCodes.POLICY, 'Authentication timeout');
    }, this.deps.config.authTimeoutMs);
    this.authTimer.unref();
  }

  send(frame: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame);
  }

  close(code: number, reason: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    this.transport.setClose(code, closeReason(reason));
    this.log.debug('closing native connection', { code, reason });
    process.nextTick(() => this.engine.close());
  }

  inject(type: string, payload: unknown): void {
    this.dispatch(type, payload, undefined);
  }

  every(ms: number, fn: () => void): void {
    const timer = setInterval(() => {
      if (this.state === 'connected') fn();
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  defaultClose(): { code: number; reason: string } {
    if (this.deps.goingAway()) return { code: CloseCodes.GOING_AWAY, reason: 'Server shutting down' };
    if (this.state === 'unauthenticated' || this.state === 'connecting') return { code: CloseCodes.POLICY, reason: 'Not authenticated' };
    return { code: CloseCodes.NORMAL, reason: 'Connection closed' };
  }

  private connect(token: string): void {
    this.state = 'connecting';
    this.transport.receive(encodeConnect({ token }));
  }

  private sendError(info: ErrorInfo, request?: PendingRequest): void {
    this.deps.errorSent?.(info.code);
    this.send(this.dialect.encodeError(info, request));
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const parsed = parseFrame(data, isBinary, this.deps.config.maxMessageBytes);
    if (!parsed.ok) {
      this.sendError(errorInfo(parsed.error));
      if (parsed.close) this.close(parsed.close, 'Message too big');
      return;
    }
    if (this.state === 'connecting') {
      if (this.queue.length >= MAX_QUEUED) {
        this.sendError(errorInfo(new GatewayError(ErrorCodes.RATE_LIMIT_EXCEEDED, 'Too many messages before the connection is ready')));
        return;
      }
      this.queue.push(parsed.value);
      return;
    }
    this.handle(parsed.value);
  }

  private handle(value: unknown): void {
    let inbound: Inbound;
    try {
      inbound = this.dialect.decode(value);
    } catch (err) {
      this.log.error('dialect failed to decode a frame', { error: String(err) });
      inbound = { kind: 'error', error: toGatewayError(err) };
    }
    switch (inbound.kind) {
      case 'frame':
        return this.send(inbound.frame);
      case 'ignore':
        return;
      case 'error':
        return this.sendError(errorInfo(inbound.error, inbound.request?.type), inbound.request);
      case 'auth':
        return this.authenticate(inbound.token, inbound.context);
      case 'event':
        if (this.state === 'unauthenticated') {
          const err = new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'Not authenticated: send an auth message first');
          return this.sendError(errorInfo(err, inbound.type));
        }
        return this.dispatch(inbound.type, inbound.payload, inbound.reply);
    }
  }

  private authenticate(token: string | undefined, context: Record<string, string>): void {
    if (this.state === 'unauthenticated') {
      Object.assign(this.context, context);
      this.authenticatedByMessage = true;
      if (!token) return this.failAuth(new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'Missing token'));
      return this.connect(token);
    }
    // Re-authentication on a live connection: the dispatcher's refresh_token (a fresh token for
    // the same user moves the expiry); its ack becomes the dialect's auth answer.
    if (this.state !== 'connected') return;
    if (!token) return this.failAuth(new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'Missing token'));
    this.dispatch('refresh_token', { token }, { ref: REFRESH });
  }

  private failAuth(err: GatewayError): void {
    const info = errorInfo(err);
    this.send(this.dialect.encodeAuthFailure ? this.dialect.encodeAuthFailure(info) : this.dialect.encodeError(info));
    this.close(CloseCodes.POLICY, err.message);
  }

  private dispatch(type: string, payload: unknown, reply: { ref: unknown } | undefined): void {
    let ackId: number | undefined;
    if (reply) {
      if (this.pending.size >= MAX_IN_FLIGHT) {
        const err = new GatewayError(ErrorCodes.RATE_LIMIT_EXCEEDED, 'Too many requests awaiting an answer');
        return this.sendError(errorInfo(err, type), { type, ref: reply.ref });
      }
      ackId = ++this.nextAckId;
    }
    let encoded: string;
    try {
      encoded = encodeEvent(type, payload, ackId);
    } catch {
      return this.sendError(errorInfo(new GatewayError(ErrorCodes.INVALID_MESSAGE, 'Message cannot be encoded'), type));
    }
    if (ackId !== undefined) this.pending.set(ackId, { type, ref: reply!.ref });
    this.transport.receive(encoded);
  }

  outgoing(encoded: string, options: object | undefined): OutgoingFrame | undefined {
    try {
      return this.translate(encoded, options);
    } catch (err) {
      this.log.error('cannot translate an outgoing packet', { error: String(err) });
      return undefined;
    }
  }

  private translate(encoded: string, options: object | undefined): OutgoingFrame | undefined {
    const packet = this.deps.cache.packet(encoded, options);
    switch (packet.type) {
      case PacketType.CONNECT:
        this.onConnected(packet.data.sid);
        return undefined;
      case PacketType.CONNECT_ERROR: {
        const info = errorInfoFromBody(packet.data.data ?? { code: packet.data.message, message: packet.data.message });
        if (this.authenticatedByMessage && this.dialect.encodeAuthFailure) this.send(this.dialect.encodeAuthFailure(info));
        this.close(closeCodeFor(info.code, info.details), info.message);
        return undefined;
      }
      case PacketType.EVENT:
        if (packet.event === 'error') return this.dialect.encodeError(errorInfoFromEvent(packet.payload));
        return this.deps.cache.eventFrame(encoded, options, this.dialect, packet.event, packet.payload);
      case PacketType.ACK: {
        const request = this.pending.get(packet.id);
        if (!request) return undefined;
        this.pending.delete(packet.id);
        const response = packet.args[0];
        if (request.ref === REFRESH) return this.refreshed(response);
        if (isRecord(response) && response.ok === true) {
          const { ok: _ok, ...result } = response;
          return this.dialect.encodeReply(request, result);
        }
        return this.dialect.encodeError(errorInfoFromBody(isRecord(response) ? response.error : undefined, request.type), request);
      }
      case PacketType.DISCONNECT:
        this.close(CloseCodes.NORMAL, 'Disconnected by the server');
        return undefined;
      default:
        return undefined;
    }
  }

  /** The answer to a live `auth` message: the dialect's auth success, or its failure and close 1008. */
  private refreshed(response: unknown): string | undefined {
    if (isRecord(response) && response.ok === true) return this.dialect.encodeAuthSuccess?.(this);
    const info = errorInfoFromBody(isRecord(response) ? response.error : undefined, 'auth');
    this.failAuth(new GatewayError(info.code, info.message, { ...info.details }));
    return undefined;
  }

  private onConnected(sid: string | undefined): void {
    const socket = sid ? this.deps.io.of('/').sockets.get(sid) : undefined;
    if (!socket) {
      this.log.error('connected socket not found in /', { socket_id: sid });
      this.close(CloseCodes.INTERNAL, 'Internal error');
      return;
    }
    this.socket_ = socket;
    this.connectedAt = Date.now();
    clearTimeout(this.authTimer);
    this.log = this.deps.logger.child({ module: 'native', endpoint: this.dialect.name, socket_id: socket.id, user_id: this.principal.userId });
    // The namespace's connection listeners (dispatcher, user room) run right after this packet:
    // greet and replay the queue once they have.
    process.nextTick(() => {
      if (this.state !== 'connecting') return;
      this.state = 'connected';
      try {
        if (this.authenticatedByMessage && this.dialect.encodeAuthSuccess) this.send(this.dialect.encodeAuthSuccess(this));
        this.dialect.onConnected?.(this);
      } catch (err) {
        this.log.error('dialect failed on connect', { error: String(err) });
      }
      const queued = this.queue;
      this.queue = [];
      for (const value of queued) {
        if (this.state !== 'connected') break;
        this.handle(value);
      }
    });
  }

  private cleanup(): void {
    this.state = 'closed';
    clearTimeout(this.authTimer);
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    this.pending.clear();
    this.queue = [];
  }
}
