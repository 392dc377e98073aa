import { Manager, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type { NamespaceName } from '../../../shared/namespaces';
import { isRecord } from '../../../shared/records';
import { GatewayClientBase, type ClientOptions } from '../common/client-base';
import { ClientError, gatewayErrorFrom, toError } from '../common/errors';
import type { QueuedMessage } from '../common/queue';
import { tokenFor } from '../common/tokens';
import { trimSlash, urlForAttempt } from '../common/urls';

export type { RequestOptions, SendOptions } from '../common/client-base';

export interface SocketClientOptions extends ClientOptions {
  /** The namespace (`/` serves every message type). */
  readonly namespace?: NamespaceName;
  /** The Socket.IO path (`/socket.io`). */
  readonly path?: string;
  /** WebSocket only by default: no long-polling, no sticky sessions needed. */
  readonly transports?: Array<'websocket' | 'polling'>;
  /** Passed to socket.io-client's Manager (its own reconnection stays off: this client reconnects). */
  readonly socketOptions?: Partial<ManagerOptions & SocketOptions>;
}


/**
 * A Socket.IO client of the gateway (socket.io-client v4 underneath) on one namespace, typed by
 * the message catalogue: `request(type, payload)` resolves to the type's ack fields or rejects
 * with the gateway's GatewayError; `send` is fire-and-forget (errors come as `error` events).
 * The url option takes the pods' base URLs (`http://host:port`). Every handshake asks the token
 * provider (the `auth` callback), and a `token_expiring` is answered with `refresh_token`.
 */
export class SocketClient extends GatewayClientBase {
  private manager?: Manager;
  private socket?: Socket;
  private url: string | null = null;
  private attempts = 0;

  constructor(private readonly options: SocketClientOptions) {
    super(options);
    void this.attempt();
  }

  get connected(): boolean {
    return this.socket?.connected === true;
  }

  protected write(message: QueuedMessage): void {
    const socket = this.socket!;
    this.rooms.sent(message.type, message.payload);
    this.recorder.sent();
    const id = message.requestId;
    if (id === undefined) {
      (message.volatile ? socket.volatile : socket).emit(message.type, message.payload);
      return;
    }
    this.pending.markSent(id);
    socket.emit(message.type, message.payload, (response: unknown) => this.answered(id, response));
  }

  protected closeTransport(): void {
    this.socket?.disconnect();
  }

  private answered(id: string, response: unknown): void {
    this.recorder.received();
    if (isRecord(response) && response.ok === true) {
      const { ok: _ok, ...fields } = response;
      const rtt = this.pending.resolve(id, fields);
      if (rtt !== undefined) this.recorder.latency(rtt);
      return;
    }
    this.pending.reject(id, gatewayErrorFrom(isRecord(response) ? response.error : undefined));
  }

  protected async attempt(): Promise<void> {
    if (this.closed) return;
    let url: string;
    try {
      url = trimSlash(await urlForAttempt(this.options.url, this.attempts++));
    } catch (err) {
      return this.attemptFailed(toError(err));
    }
    if (this.closed) return;
    this.url = url;
    if (!this.manager) {
      this.manager = new Manager(url, {
        path: this.options.path ?? '/socket.io',
        transports: this.options.transports ?? ['websocket'],
        ...this.options.socketOptions,
        autoConnect: false,
        reconnection: false,
      });
      this.socket = this.manager.socket(this.options.namespace ?? '/', { auth: (cb) => this.authenticate(cb) });
      this.listen(this.socket);
    } else {
      // The manager is closed between attempts; its next engine parses this URL.
      (this.manager as unknown as { uri: string }).uri = url;
    }
    this.socket!.connect();
  }

  /** The handshake's `auth` callback: a token from the provider on every (re)connection. */
  private authenticate(cb: (data: object) => void): void {
    tokenFor(this.options.token, this.everConnected ? 'reconnect' : 'connect').then(
      (token) => cb({ token }),
      (err) => {
        this.emit('connect_error', [toError(err)]);
        cb({});
      },
    );
  }

  private listen(socket: Socket): void {
    socket.on('connect', () => this.connectedTo(this.url!));
    // A refused handshake carries `{code, message}`; a transport failure is a plain Error.
    socket.on('connect_error', (err: Error & { data?: unknown }) => this.attemptFailed(isRecord(err.data) && 'code' in err.data ? gatewayErrorFrom(err.data) : err));
    socket.on('disconnect', (reason: string) => this.disconnected({ reason }));
    socket.onAny((event: string, payload: unknown) => this.received(event, payload));
  }

  private received(event: string, payload: unknown): void {
    this.recorder.received();
    if (event === 'error') return this.serverError(gatewayErrorFrom(payload));
    if (event === 'token_expiring' && this.refreshesOnExpiry) void this.refreshToken();
    this.serverEvent(event, payload);
  }

  private async refreshToken(): Promise<void> {
    try {
      const token = await tokenFor(this.options.token, 'expiring');
      const { expires_at } = await this.request('refresh_token', { token });
      this.emit('token_refreshed', [{ expiresAt: expires_at }]);
    } catch (err) {
      // Without a fresh token the connection ends at expiry, and the reconnection asks the provider again.
      if (err instanceof Error && !(err instanceof ClientError)) this.emit('connect_error', [err]);
    }
  }
}
