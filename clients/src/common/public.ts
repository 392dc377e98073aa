/** What both clients export: errors, events, statistics, options shared by both, catalogue types. */
export { ClientError, ErrorCodes, GatewayError, gatewayErrorFrom, type ClientErrorCode, type ErrorBody, type ErrorCode } from './errors';
export type { ClientEvents, ConnectInfo, DisconnectInfo, LifecycleEvents, ServerEvents } from './events';
export type { ConnectionStats } from './stats';
export { backoffDelay, type BackoffOptions } from '../../../shared/backoff';
export type { TokenProvider, TokenReason } from './tokens';
export type { UrlSource } from './urls';
export type {
  AckFields,
  ClientInput,
  ClientMessageType,
  ServerMessageType,
  ServerPayload,
} from '../../../shared/catalogue';
export type { NamespaceName } from '../../../shared/namespaces';
