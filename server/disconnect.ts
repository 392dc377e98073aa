import { closeCodeFor, type GatewayError } from '../shared/errors';
import { connectionInfoOf } from './connection-info';
import type { GatewaySocket } from './types';

/**
 * Ends a client's connection because of an error (expired token, sustained abuse, a slow
 * consumer, replaced by a newer connection): the client is told why on its one way out (the
 * `error` event for Socket.IO, which a native dialect turns into its own error frame), then the
 * whole connection closes: every namespace of a Socket.IO client, with the error's close code
 * for a native one.
 */
export function disconnectWith(socket: GatewaySocket, err: GatewayError): void {
  if (socket.disconnected) return;
  socket.emit('error', {
    ...err.details,
    type: 'error',
    code: err.code,
    error: err.message,
    timestamp: new Date().toISOString(),
  });
  closeConnection(socket.conn, err);
}

/** Closes an engine.io connection (all its namespaces), with the error's close code for native clients. */
export function closeConnection(conn: GatewaySocket['conn'], err: GatewayError): void {
  const info = connectionInfoOf(conn);
  if (info.closeWith) info.closeWith(closeCodeFor(err.code, err.details), err.message);
  else conn.close();
}
