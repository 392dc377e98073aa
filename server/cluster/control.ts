import { ErrorCodes, GatewayError, isErrorCode } from '../../shared/errors';
import { AllNamespaces } from '../../shared/namespaces';
import { disconnectWith } from '../disconnect';
import type { Logger } from '../logger';
import type { CloseOrder, GatewayServer, GatewaySocket } from '../types';

/**
 * Closes connections wherever they are: an order goes to this pod and, through the adapter's
 * server-side events, to every other pod, which each close their own sockets in the room with the
 * error (told to the client, then the connection closed with the error's close code). Used for a
 * user's connections (admin revocation) and for seed 000's one connection per user.
 */
export class ConnectionControl {
  private readonly log: Logger;

  constructor(
    private readonly io: GatewayServer,
    logger: Logger,
    /** Whether other pods share the adapter (Redis): only then do orders travel. */
    private readonly clustered: boolean,
  ) {
    this.log = logger.child({ module: 'control' });
    io.on('gateway:close', (order) => this.apply(order));
  }

  /** Closes every connection in `room` on every pod; resolves with how many this pod closed. */
  closeRoom(room: string, err: GatewayError, options: { except?: string; olderThan?: { at: number; id: string } } = {}): number {
    const order: CloseOrder = { room, code: err.code, message: err.message, ...options };
    if (this.clustered) {
      try {
        this.io.serverSideEmit('gateway:close', order);
      } catch (e) {
        this.log.warn('close order not sent to the other pods', { error: String(e) });
      }
    }
    return this.apply(order);
  }

  private apply(order: CloseOrder): number {
    const code = isErrorCode(order.code) ? order.code : ErrorCodes.INTERNAL_ERROR;
    const err = new GatewayError(code, order.message);
    const targets = new Set<GatewaySocket>();
    for (const name of AllNamespaces) {
      const nsp = this.io._nsps.get(name);
      const ids = nsp?.adapter.rooms.get(order.room);
      if (!nsp || !ids) continue;
      for (const id of ids) {
        const socket = nsp.sockets.get(id);
        if (socket && id !== order.except && isOlder(socket, order.olderThan)) targets.add(socket);
      }
    }
    // One socket per connection: closing it closes the connection's other namespaces too.
    const conns = new Set<unknown>();
    for (const socket of targets) {
      if (conns.has(socket.conn)) continue;
      conns.add(socket.conn);
      disconnectWith(socket, err);
    }
    return conns.size;
  }
}

/** Whether a socket connected before the reference connection (ties broken by socket id). */
function isOlder(socket: GatewaySocket, ref: CloseOrder['olderThan']): boolean {
  if (!ref) return true;
  if (socket.id === ref.id) return false;
  const at = socket.handshake.issued;
  return at < ref.at || (at === ref.at && socket.id < ref.id);
}
