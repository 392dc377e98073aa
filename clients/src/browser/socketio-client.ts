/** Browser bundle of the Socket.IO client (global `RealtimeGateway`). */
export { SocketClient } from '../socketio/client';
export { ClientError, ErrorCodes, GatewayError, backoffDelay } from '../common/public';
