import { ErrorCodes, GatewayError, toGatewayError } from '../../shared/errors';
import type { Logger } from '../logger';
import type { GatewaySocket } from '../types';
import { handshakeToken } from './token';
import type { TokenVerifier } from './verify';

/** A Socket.IO handshake refusal: `connect_error` whose message is the code and data `{code, message}`. */
export function connectError(err: GatewayError): Error & { data: { code: string; message: string } } {
  return Object.assign(new Error(err.code), { data: { code: err.code, message: err.message } });
}

export interface HandshakeGuard {
  verify: TokenVerifier;
  /** Connections this pod accepts at most (0: unlimited). */
  maxConnections: number;
  connectionCount: () => number;
  /** Called once per namespace connection that passed. */
  accepted?: (socket: GatewaySocket) => void;
}

/** The namespace middleware: capacity, then the token (auth.token, ?token=, Authorization: Bearer). */
export function authMiddleware(guard: HandshakeGuard, logger: Logger) {
  const log = logger.child({ module: 'auth' });
  return (socket: GatewaySocket, next: (err?: Error) => void): void => {
    try {
      if (guard.maxConnections > 0 && guard.connectionCount() > guard.maxConnections) {
        throw new GatewayError(ErrorCodes.CONNECTION_LIMIT, 'Server at capacity, try again later');
      }
      socket.data.principal = guard.verify(handshakeToken(socket.handshake));
      guard.accepted?.(socket);
      next();
    } catch (err) {
      const gwErr = toGatewayError(err);
      log.warn('handshake refused', { socket_id: socket.id, namespace: socket.nsp.name, code: gwErr.code, reason: gwErr.message, address: socket.handshake.address });
      next(connectError(gwErr));
    }
  };
}
