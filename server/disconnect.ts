import { closeCodeFor, type GatewayError } from '../shared/errors';
import { connectionInfoOf } from './connection-info';
import type { GatewaySocket } from './types';

const CLOSING = Symbol('gateway.closing');
type MarkedConn = { [CLOSING]?: true; readyState: string };

/**
 * Marks a connection as being closed, at once: the pipeline serves nothing more of it, even the
 * frames already read in the same tick (a flood arrives many frames to a read).
 */
export function markClosing(conn: object): void {
  (conn as MarkedConn)[CLOSING] = true;
}

/** Whether a connection is closed or being closed (nothing more of it is served). */
export function isClosing(conn: object): boolean {
  return (conn as MarkedConn)[CLOSING] === true || (conn as MarkedConn).readyState !== 'open';
}

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

/** How long a closing connection may take to flush what it was last sent (the error) before it is cut. */
export const FLUSH_BEFORE_CLOSE_MS = 2000;

/**
 * Closes an engine.io connection (all its namespaces), with the error's close code for native
 * clients. engine.io closes after its write buffer drains, which never happens for a client that
 * stopped reading: after `flushMs` (FLUSH_BEFORE_CLOSE_MS) the buffer is discarded and the
 * connection cut; with `flushMs: 0` at once (a client known not to read: a slow consumer).
 */
export function closeConnection(conn: GatewaySocket['conn'], err: GatewayError, options: { flushMs?: number } = {}): void {
  const info = connectionInfoOf(conn);
  closeWithCut(conn, options.flushMs, info.closeWith ? () => info.closeWith!(closeCodeFor(err.code, err.details), err.message) : undefined);
}

/**
 * Closes an engine.io connection because its pod stops: a transport close, never a Socket.IO
 * disconnect, so Socket.IO clients (v2 and v4) see "transport close" and reconnect by themselves
 * (a server-side `socket.disconnect()` would give them "io server disconnect", after which they do
 * not); native clients get 1001 "Server shutting down" (once the native endpoints are going away).
 * What the connection was last sent may flush for FLUSH_BEFORE_CLOSE_MS, as in closeConnection.
 */
export function closeForShutdown(conn: GatewaySocket['conn']): void {
  closeWithCut(conn, undefined, undefined);
}

function closeWithCut(conn: GatewaySocket['conn'], flushMs = FLUSH_BEFORE_CLOSE_MS, closeWith: (() => void) | undefined): void {
  markClosing(conn);
  if (closeWith) closeWith();
  else conn.close();
  if (flushMs === 0) {
    if (conn.readyState !== 'closed') conn.close(true);
    return;
  }
  if (conn.readyState === 'closed') return;
  const cut = setTimeout(() => {
    if (conn.readyState !== 'closed') conn.close(true);
    // engine.io's polling transport, once closing, waits for the client's next poll (up to 30 s,
    // on a timer that keeps the process alive) and ignores a second close: a client that polls no
    // more is let go now, as its next poll would have done.
    const transport = conn.transport as unknown as { shouldClose?: (() => void) | null };
    if (conn.readyState !== 'closed' && typeof transport.shouldClose === 'function') transport.shouldClose();
  }, flushMs);
  cut.unref();
  conn.once('close', () => clearTimeout(cut));
}
