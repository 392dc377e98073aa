import type { ErrorCode } from '../shared/errors';
import type { GatewaySocket } from './types';

/**
 * What the gateway knows of an engine.io connection beyond engine.io itself, kept on the
 * connection object under one symbol: how the client speaks (for metric labels and policies),
 * and how to close it with a close code. The native bridge fills it for its connections; every
 * other connection is a Socket.IO client whose Engine.IO protocol (3 or 4) tells its version.
 * Features read it through these functions and never learn more of the transport than this.
 */
export interface ConnectionInfo {
  /** `eio3`, `eio4`, or `native:<endpoint>` (a bounded set: metric label). */
  readonly transport: string;
  /** Set for endpoints that allow one connection per user (seed 000): the scope's name. */
  readonly exclusiveScope?: string;
  /** Closes the connection with this close code and reason (native connections). */
  readonly closeWith?: (code: number, reason: string) => void;
}

const INFO = Symbol('gateway.connectionInfo');

interface EngineConnLike {
  protocol?: number;
  [INFO]?: ConnectionInfo;
}

export function setConnectionInfo(conn: object, info: ConnectionInfo): void {
  (conn as EngineConnLike)[INFO] = info;
}

const EIO3: ConnectionInfo = Object.freeze({ transport: 'eio3' });
const EIO4: ConnectionInfo = Object.freeze({ transport: 'eio4' });

/** The info of an engine.io connection (a Socket.IO client's, when nobody set any). */
export function connectionInfoOf(conn: object): ConnectionInfo {
  const c = conn as EngineConnLike;
  return c[INFO] ?? (c.protocol === 3 ? EIO3 : EIO4);
}

export function socketConnectionInfo(socket: GatewaySocket): ConnectionInfo {
  return connectionInfoOf(socket.conn);
}

/** Every transport label a connection can carry besides native ones (for metrics to pre-declare). */
export const SOCKET_IO_TRANSPORTS = ['eio3', 'eio4'] as const;

export type { ErrorCode };
