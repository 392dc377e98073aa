/**
 * @realtime-gateway/client: typed clients of realtime-gateway.
 * - SocketClient: Socket.IO (socket.io-client v4), any namespace.
 * - NativeClient: a plain WebSocket speaking a seed dialect (workspaceDialect: seed 002,
 *   agentsDialect: seed 001).
 */
export { SocketClient, type SocketClientOptions } from './socketio/client';
export {
  NativeClient,
  agentsDialect,
  workspaceDialect,
  type Answering,
  type Decoded,
  type Endpoint,
  type FetchLike,
  type NativeClientOptions,
  type NativeDialect,
  type WebSocketConstructor,
  type WebSocketLike,
} from './native/index';
export type { ClientOptions, RequestOptions, SendOptions } from './common/client-base';
export * from './common/public';
