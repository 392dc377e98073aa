export { SocketClient, type SocketClientOptions, type SendOptions, type RequestOptions } from './client';
export * from '../common/public';
