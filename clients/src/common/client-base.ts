import type { AckFields, ClientInput, ClientMessageType } from '../../../shared/catalogue';
import { backoffDelay, type BackoffOptions } from '../../../shared/backoff';
import { TypedEmitter } from './emitter';
import { ClientError, GatewayError } from './errors';
import type { ClientEvents, DisconnectInfo, ServerEvents } from './events';
import { OutboundQueue, type QueuedMessage } from './queue';
import { Readiness } from './readiness';
import { PendingRequests, type Answering } from './requests';
import { RoomMemory } from './rooms';
import { StatsRecorder, type ConnectionStats } from './stats';
import type { TokenProvider } from './tokens';
import type { UrlSource } from './urls';
import { invalidPayload } from './validate';

/** The options both clients take. */
export interface ClientOptions {
  /** Where to connect: one URL, several (each attempt takes the next), or a function of the attempt. */
  readonly url: UrlSource;
  /** The JWT, or a function called on every (re)connection and before expiry. */
  readonly token: TokenProvider;
  /** How long a request waits for its answer, time in the offline queue included (10 s). */
  readonly requestTimeoutMs?: number;
  /** Messages kept while disconnected (100); 0 drops them. */
  readonly queueSize?: number;
  readonly backoff?: BackoffOptions;
  /** Failed attempts in a row before giving up and closing (never). */
  readonly maxReconnectAttempts?: number;
  /** On `token_expiring`, get a fresh token from the provider and replace the live one, where the protocol can (true). */
  readonly refreshOnExpiry?: boolean;
  /** Check payloads against the catalogue's schemas before sending (true). */
  readonly validate?: boolean;
  /** Join the rooms again after a reconnection, before flushing the queue (true). */
  readonly rejoinRooms?: boolean;
}

export interface SendOptions {
  /** Dropped first when the offline queue is full (cursor moves). */
  readonly volatile?: boolean;
}

export interface RequestOptions {
  readonly timeoutMs?: number;
}

/**
 * What both clients share: typed send/request/call, the bounded offline queue flushed in order
 * (rooms joined again first), requests awaiting answers with timeouts, statistics, and the
 * reconnection schedule (exponential backoff with jitter and a cap). A subclass owns the transport:
 * it makes attempts, writes messages, and reports connections, losses and server frames.
 */
export abstract class GatewayClientBase extends TypedEmitter<ClientEvents> {
  protected readonly queue: OutboundQueue;
  protected readonly pending = new PendingRequests((id) => this.queue.removeRequest(id));
  protected readonly recorder = new StatsRecorder();
  protected readonly rooms = new RoomMemory();
  protected closed = false;
  /** Whether a connection succeeded before: the token provider hears `reconnect` from then on. */
  protected everConnected = false;
  private readonly readiness = new Readiness();
  private failures = 0;
  private retryTimer?: ReturnType<typeof setTimeout>;

  constructor(private readonly common: ClientOptions) {
    super();
    this.queue = new OutboundQueue(common.queueSize ?? 100);
  }

  abstract get connected(): boolean;

  get stats(): ConnectionStats {
    return this.recorder.snapshot(this.queue.length);
  }

  /** Resolves once connected (at once when connected); rejects if the client gives up or is closed. */
  ready(): Promise<void> {
    return this.connected ? Promise.resolve() : this.readiness.wait();
  }

  /** Sends a message without waiting for an answer (its errors arrive as `error` events); an invalid payload throws its GatewayError. */
  send<T extends ClientMessageType>(type: T, payload: ClientInput<T>, options: SendOptions = {}): void {
    if (this.closed) throw new ClientError('CLOSED', 'The client is closed', type);
    const invalid = this.common.validate === false ? undefined : invalidPayload(type, payload);
    if (invalid) throw invalid;
    this.dispatch({ type, payload, volatile: options.volatile === true });
  }

  /**
   * Sends a message and resolves to its result (the type's ack fields), or rejects with the
   * gateway's GatewayError, or a ClientError: TIMEOUT, DISCONNECTED (sent, then the connection
   * dropped: it may or may not have been served), DROPPED (from the full queue), CLOSED, or
   * UNSUPPORTED (the protocol never answers this type).
   */
  request<T extends ClientMessageType>(type: T, payload: ClientInput<T>, options: RequestOptions = {}): Promise<AckFields<T>> {
    const invalid = this.common.validate === false ? undefined : invalidPayload(type, payload);
    if (invalid) return Promise.reject(invalid);
    return this.ask<AckFields<T>>(type, payload, options);
  }

  /** A message type of the gateway's RPC_ROUTES (a backend of yours): resolves to the backend's answer. */
  call(type: string, payload: Record<string, unknown>, options: RequestOptions = {}): Promise<unknown> {
    return this.ask<{ result?: unknown }>(type, payload, options).then((fields) => fields.result);
  }

  /** Closes the connection for good; pending and queued requests reject with ClientError CLOSED. */
  close(): void {
    if (this.closed) return;
    const wasConnected = this.connected;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.queue.drain();
    this.pending.rejectAll((type) => new ClientError('CLOSED', 'The client was closed', type));
    this.closeTransport();
    this.recorder.disconnected();
    this.readiness.fail(new ClientError('CLOSED', 'The client was closed'));
    if (wasConnected) this.emit('disconnect', [{ reason: 'Client closed', code: 1000 }]);
  }

  /** How the protocol answers a request of this type (Socket.IO: an ack for every type). */
  protected answering(_type: string): Answering {
    return { by: 'correlation' };
  }

  /** Puts one message on the live connection. */
  protected abstract write(message: QueuedMessage): void;
  /** Makes one connection attempt; reports through connectedTo / attemptFailed. */
  protected abstract attempt(): Promise<void>;
  protected abstract closeTransport(): void;

  private ask<R>(type: string, payload: unknown, options: RequestOptions): Promise<R> {
    if (this.closed) return Promise.reject(new ClientError('CLOSED', 'The client is closed', type));
    const answering = this.answering(type);
    if (answering.by === 'none') {
      return Promise.reject(new ClientError('UNSUPPORTED', `No answer ever comes to ${type} on this protocol: send() it and listen for the events it causes`, type));
    }
    const timeoutMs = options.timeoutMs ?? this.common.requestTimeoutMs ?? 10_000;
    const { id, promise } = this.pending.add<R>(type, timeoutMs, answering.by === 'event' ? answering.event : undefined);
    this.rooms.watch(type, payload, promise);
    this.dispatch({ type, payload, volatile: false, requestId: id, correlated: answering.by === 'correlation' });
    return promise;
  }

  private dispatch(message: QueuedMessage): void {
    if (this.connected) return this.write(message);
    for (const dropped of this.queue.push(message)) {
      this.recorder.dropped(1);
      if (dropped.requestId) this.pending.reject(dropped.requestId, new ClientError('DROPPED', 'Dropped from the full offline queue', dropped.type));
      this.emit('dropped', [{ type: dropped.type, volatile: dropped.volatile }]);
    }
  }

  /** The transport is connected: rooms joined again, the queue flushed in order, then `connect`. */
  protected connectedTo(url: string): void {
    this.failures = 0;
    const reconnect = this.everConnected;
    this.everConnected = true;
    this.recorder.connected(url);
    if (reconnect && this.common.rejoinRooms !== false) {
      for (const room_id of this.rooms.list()) {
        if (this.answering('join_room').by === 'none') this.write({ type: 'join_room', payload: { room_id }, volatile: false });
        else this.ask('join_room', { room_id }, {}).catch((err) => err instanceof GatewayError && this.emit('error', [err]));
      }
    }
    for (const message of this.queue.drain()) this.write(message);
    this.readiness.succeed();
    this.emit('connect', [{ url, reconnect }]);
  }

  /** The live connection was lost: requests in flight are rejected, and a reconnection scheduled. */
  protected disconnected(info: DisconnectInfo): void {
    if (this.closed) return;
    this.recorder.disconnected();
    this.pending.rejectSent(`Disconnected (${info.reason})`);
    this.emit('disconnect', [info]);
    this.scheduleReconnect();
  }

  /** An attempt failed; a refusal that says when to retry (`retry_after_ms`) is not retried sooner. */
  protected attemptFailed(error: Error): void {
    if (this.closed) return;
    this.recorder.failed();
    this.emit('connect_error', [error]);
    const retryAfter = error instanceof GatewayError ? error.details.retry_after_ms : undefined;
    this.scheduleReconnect(typeof retryAfter === 'number' && Number.isFinite(retryAfter) ? retryAfter : 0);
  }

  private scheduleReconnect(notBeforeMs = 0): void {
    if (this.closed || this.retryTimer) return;
    const attempt = this.failures++;
    if (attempt >= (this.common.maxReconnectAttempts ?? Infinity)) {
      this.emit('reconnect_failed', [{ attempts: attempt }]);
      this.close();
      return;
    }
    const delayMs = Math.max(notBeforeMs, backoffDelay(attempt, this.common.backoff));
    this.emit('reconnect_attempt', [{ attempt: attempt + 1, delayMs }]);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.attempt();
    }, delayMs);
  }

  /** An error from the gateway that answers no request. */
  protected serverError(error: GatewayError): void {
    this.rooms.refusedBy(error);
    this.emit('error', [error]);
  }

  /** A server event, to its listeners and the onAny ones. */
  protected serverEvent(type: string, payload: unknown): void {
    this.emit(type as keyof ServerEvents, [payload] as never, true);
  }

  /** Whether `token_expiring` should make the client replace its token. */
  protected get refreshesOnExpiry(): boolean {
    return this.common.refreshOnExpiry !== false;
  }
}
