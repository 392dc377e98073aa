import { GatewayClientBase, type ClientOptions } from '../common/client-base';
import { ClientError, ErrorCodes, GatewayError, toError } from '../common/errors';
import type { QueuedMessage } from '../common/queue';
import type { Answering } from '../common/requests';
import { tokenFor } from '../common/tokens';
import { urlForAttempt } from '../common/urls';
import type { Decoded, NativeDialect } from './dialect';
import { Discovery, withToken, type FetchLike } from './discovery';
import { Heartbeat } from './heartbeat';
import { frameText, OPEN, resolveWebSocket, type WebSocketConstructor, type WebSocketLike } from './websocket';

export type { RequestOptions, SendOptions } from '../common/client-base';

export interface NativeClientOptions extends ClientOptions {
  /** The protocol: `workspaceDialect` (seed 002), `agentsDialect` (seed 001), or your own. */
  readonly dialect: NativeDialect;
  /** The WebSocket class: the global one by default (browsers), else the `ws` package. */
  readonly WebSocket?: WebSocketConstructor;
  readonly fetch?: FetchLike;
  /** Ask `GET /ws/config` for the endpoint (true). */
  readonly discovery?: boolean;
  /** A connection not ready within this long is dropped and retried (20 s). */
  readonly connectTimeoutMs?: number;
  /** JSON ping interval (25 s) and the silence after a ping that means the link is dead (20 s). */
  readonly pingIntervalMs?: number;
  readonly pingTimeoutMs?: number;
}

/**
 * A plain-WebSocket client of one of the gateway's native dialects, typed by the message
 * catalogue, for browsers (global WebSocket) and Node (`ws`). The url option takes pod base URLs
 * (`http://host:port`: the endpoint comes from `/ws/config`) or endpoint URLs (`ws://host/path`).
 * It pings and drops a silent link, refuses locally what the gateway would close the connection
 * over (a frame above its size limit), and matches answers to requests as its dialect answers.
 */
export class NativeClient extends GatewayClientBase {
  private ws?: WebSocketLike;
  private state: 'connecting' | 'open' = 'connecting';
  private url: string | null = null;
  private maxMessageBytes?: number;
  private attempts = 0;
  private connectTimer?: ReturnType<typeof setTimeout>;
  private readonly dialect: NativeDialect;
  private readonly discovery: Discovery;
  private readonly heartbeat: Heartbeat;

  constructor(private readonly options: NativeClientOptions) {
    super(options);
    this.dialect = options.dialect;
    this.discovery = new Discovery(options.dialect, options.discovery !== false, options.fetch);
    this.heartbeat = new Heartbeat(
      { intervalMs: options.pingIntervalMs ?? 25_000, timeoutMs: options.pingTimeoutMs ?? 20_000 },
      () => this.transmit(this.dialect.ping()),
      () => this.drop('ping timeout'),
      (ms) => this.recorder.latency(ms),
    );
    void this.attempt();
  }

  get connected(): boolean {
    return !this.closed && this.state === 'open';
  }

  protected override answering(type: string): Answering {
    return this.dialect.answering(type);
  }

  protected closeTransport(): void {
    this.detach(1000, 'Client closed');
  }

  protected write(message: QueuedMessage): void {
    const frame = this.dialect.encode(message.type, message.payload, message.correlated ? message.requestId : undefined);
    const tooLarge = this.tooLarge(frame, message.type);
    if (tooLarge) {
      // The gateway would close the connection (1009) over it: refuse it here.
      if (message.requestId) this.pending.reject(message.requestId, tooLarge);
      else this.emit('error', [tooLarge]);
      return;
    }
    this.rooms.sent(message.type, message.payload);
    this.transmit(frame);
    if (message.requestId) this.pending.markSent(message.requestId);
  }

  private tooLarge(frame: string, type: string): GatewayError | undefined {
    const max = this.maxMessageBytes;
    if (max === undefined || frame.length * 3 <= max) return undefined;
    const bytes = new TextEncoder().encode(frame).length;
    if (bytes <= max) return undefined;
    return new GatewayError(ErrorCodes.MESSAGE_TOO_LARGE, `Message is ${bytes} bytes; the gateway takes at most ${max}`, { max_bytes: max, message_type: type });
  }

  private transmit(frame: string): void {
    if (this.ws?.readyState !== OPEN) return;
    this.ws.send(frame);
    this.recorder.sent();
  }

  protected async attempt(): Promise<void> {
    if (this.closed) return;
    try {
      const base = await urlForAttempt(this.options.url, this.attempts++);
      const reason = this.everConnected ? 'reconnect' : 'connect';
      const [WebSocketClass, endpoint, token] = await Promise.all([
        resolveWebSocket(this.options.WebSocket),
        this.discovery.endpoint(base),
        tokenFor(this.options.token, reason),
      ]);
      if (this.closed) return;
      this.url = endpoint.url;
      this.maxMessageBytes = endpoint.maxMessageBytes;
      this.open(new WebSocketClass(withToken(endpoint.url, token)) as WebSocketLike);
    } catch (err) {
      this.attemptFailed(toError(err));
    }
  }

  private open(ws: WebSocketLike): void {
    this.ws = ws;
    this.connectTimer = setTimeout(() => this.drop('connect timeout'), this.options.connectTimeoutMs ?? 20_000);
    ws.onopen = () => {
      if (this.dialect.handshake !== 'ping') return;
      this.heartbeat.pinged();
      this.transmit(this.dialect.ping());
    };
    ws.onmessage = (event) => {
      const text = frameText(event.data);
      if (text !== undefined) this.receive(text);
    };
    ws.onclose = (event) => this.lost(event.code, event.reason || `closed with ${event.code}`);
    ws.onerror = () => undefined; // a close follows
  }

  /** Stops listening to the current WebSocket and closes it (at once where `ws` allows). */
  private detach(code: number, reason: string): void {
    const ws = this.ws;
    this.ws = undefined;
    clearTimeout(this.connectTimer);
    this.heartbeat.stop();
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => undefined;
    if (ws.terminate && code !== 1000) ws.terminate();
    else ws.close(code, reason);
  }

  /** The link is dead (no answer to pings, or no greeting in time): drop it and reconnect. */
  private drop(reason: string): void {
    this.detach(4000, reason);
    this.lost(4000, reason);
  }

  private lost(code: number, reason: string): void {
    this.detach(1000, reason);
    const wasOpen = this.state === 'open';
    this.state = 'connecting';
    if (wasOpen) this.disconnected({ reason, code });
    else this.attemptFailed(new ClientError('DISCONNECTED', `Closed before the connection was ready: ${code} ${reason}`));
  }

  private opened(): void {
    clearTimeout(this.connectTimer);
    this.state = 'open';
    this.heartbeat.start();
    this.connectedTo(this.url!);
  }

  private receive(text: string): void {
    this.recorder.received();
    this.heartbeat.alive();
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    const decoded: Decoded = this.dialect.decode(frame);
    switch (decoded.kind) {
      case 'ready':
        if (this.state === 'connecting') this.opened();
        return;
      case 'pong':
        this.heartbeat.pong();
        if (this.state === 'connecting' && this.dialect.handshake === 'ping') this.opened();
        return;
      case 'heartbeat':
        return;
      case 'auth_success':
        this.emit('token_refreshed', [{ expiresAt: null }]);
        return;
      case 'reply': {
        const rtt = this.pending.resolve(decoded.correlation, decoded.result);
        if (rtt !== undefined) this.recorder.latency(rtt);
        return;
      }
      case 'error':
        return this.refused(decoded);
      case 'event':
        return this.event(decoded.type, decoded.payload);
    }
  }

  private refused(decoded: Extract<Decoded, { kind: 'error' }>): void {
    if (decoded.correlation !== undefined && this.pending.reject(decoded.correlation, decoded.error)) return;
    const id = decoded.messageType === undefined ? undefined : this.pending.oldestUncorrelated(decoded.messageType);
    if (id !== undefined && this.pending.reject(id, decoded.error)) return;
    this.serverError(decoded.error);
  }

  private event(type: string, payload: unknown): void {
    if (type === '') return;
    const id = this.pending.oldestExpecting(type);
    if (id !== undefined) this.pending.resolve(id, payload);
    if (type === 'token_expiring' && this.dialect.refresh && this.refreshesOnExpiry) void this.refreshToken(this.dialect.refresh);
    this.serverEvent(type, payload);
  }

  private async refreshToken(frame: (token: string) => string): Promise<void> {
    try {
      this.transmit(frame(await tokenFor(this.options.token, 'expiring')));
    } catch (err) {
      this.emit('connect_error', [toError(err)]);
    }
  }
}
