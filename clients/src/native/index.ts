export { NativeClient, type NativeClientOptions, type SendOptions, type RequestOptions } from './client';
export type { Answering, Decoded, NativeDialect } from './dialect';
export type { Endpoint, FetchLike } from './discovery';
export type { WebSocketConstructor, WebSocketLike } from './websocket';
export { workspaceDialect } from './dialects/workspace';
export { agentsDialect } from './dialects/agents';
export * from '../common/public';
