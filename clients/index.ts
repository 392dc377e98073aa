import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../shared/catalogue';
import type { NamespaceName } from '../shared/namespaces';

/** A socket.io-client v4 socket typed by the gateway's message catalogue. */
export type GatewayClient = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface ConnectOptions {
  /** The JWT, sent as the handshake's `auth.token`. */
  token: string;
  namespace?: NamespaceName;
  /** Defaults to WebSocket only (no long-polling, no sticky sessions needed). */
  transports?: Array<'websocket' | 'polling'>;
  reconnection?: boolean;
}

/**
 * Connects to a gateway. Every emit and listener is checked against the catalogue at compile time:
 * `client.emit('join_room', { room_id: 'r' }, (ack) => ...)`, `client.on('room_state', (s) => ...)`.
 */
export function connectGateway(baseUrl: string, options: ConnectOptions): GatewayClient {
  return io(`${baseUrl.replace(/\/$/, '')}${options.namespace && options.namespace !== '/' ? options.namespace : ''}`, {
    auth: { token: options.token },
    transports: options.transports ?? ['websocket'],
    reconnection: options.reconnection ?? true,
  });
}
