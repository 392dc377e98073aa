/** Browser bundle of both clients (global `RealtimeGateway`, or an ES module). */
export { SocketClient } from '../socketio/client';
export { NativeClient, agentsDialect, workspaceDialect } from '../native/index';
export { ClientError, ErrorCodes, GatewayError, backoffDelay } from '../common/public';
