/** Browser bundle of the native WebSocket client (global `RealtimeGateway`). */
export { NativeClient, agentsDialect, workspaceDialect } from '../native/index';
export { ClientError, ErrorCodes, GatewayError, backoffDelay } from '../common/public';
