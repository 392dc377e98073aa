import { CAPACITY_DETAIL, ErrorCodes, GatewayError, toGatewayError, type ErrorCode } from '../../shared/errors';
import type { Limits } from '../cluster/limits';
import type { Logger } from '../logger';
import type { GatewaySocket } from '../types';
import type { AddressOf } from './client-address';
import type { Principal } from './principal';
import { handshakeToken } from './token';
import type { TokenVerifier } from './verify';

/** A Socket.IO handshake refusal: `connect_error` whose message is the code and data `{code, message, ...details}`. */
export function connectError(err: GatewayError): Error & { data: { code: string; message: string } } {
  return Object.assign(new Error(err.code), { data: { ...err.details, code: err.code, message: err.message } });
}

export interface HandshakeGuard {
  verify: TokenVerifier;
  limits: Limits;
  clientAddress: AddressOf;
  /** Connections this pod accepts at most (0: unlimited). */
  maxConnections: number;
  connectionCount: () => number;
  /** Called once per connection (not per namespace) that was admitted. */
  admitted?: (socket: GatewaySocket) => void;
  refused?: (code: ErrorCode) => void;
}

const ADMISSION = Symbol('gateway.admission');
/** What an admitted connection keeps (one shared promise, not its own). */
const ADMITTED: Promise<void> = Promise.resolve();
type AdmittedConn = { [ADMISSION]?: Promise<void>; id: string; request: Parameters<AddressOf>[0]; once(event: 'close', fn: () => void): unknown };

/**
 * A connection's admission, once per engine.io connection (a Socket.IO client's namespaces share
 * it): the client address's connection rate (CONNECTIONS_PER_IP_PER_MINUTE, across pods), then
 * the user's connections across pods (WEBSOCKET_MAX_CONNECTIONS_PER_USER). The user's count is
 * released when the connection closes.
 */
function admit(guard: HandshakeGuard, socket: GatewaySocket, principal: Principal): Promise<void> {
  const conn = socket.conn as unknown as AdmittedConn;
  if (conn[ADMISSION]) return conn[ADMISSION];
  const admission = (async () => {
    const ip = await guard.limits.ipConnection(guard.clientAddress(conn.request));
    if (!ip.allowed) {
      throw new GatewayError(ErrorCodes.CONNECTION_LIMIT, 'Too many new connections from this address, try again later', { retry_after_ms: ip.retryAfterMs });
    }
    // A user blocked for going over the request budget is refused at the door: a client that
    // reconnects in a loop costs a handshake each time, not a hundred refused messages.
    const blocked = await guard.limits.userBlocked(principal.userId);
    if (!blocked.allowed) {
      throw new GatewayError(ErrorCodes.RATE_LIMIT_EXCEEDED, 'Rate limit exceeded: blocked, try again later', { retry_after_ms: blocked.retryAfterMs });
    }
    const { connections } = guard.limits;
    if (connections.limit <= 0) return;
    const opened = await connections.open(principal.userId, conn.id);
    if (!opened.accepted) {
      throw new GatewayError(ErrorCodes.CONNECTION_LIMIT, `At most ${connections.limit} connections per user`, { limit: connections.limit });
    }
    conn.once('close', () => void connections.close(principal.userId, conn.id).catch(() => undefined));
  })();
  conn[ADMISSION] = admission;
  admission.then(
    () => (conn[ADMISSION] = ADMITTED),
    () => undefined,
  );
  return admission;
}

/**
 * The namespace middleware: pod capacity, the token (auth.token, ?token=, Authorization: Bearer),
 * then the connection's admission. Native connections pass here too (the bridge sends their
 * token in the CONNECT packet), so every refusal has one shape: a CONNECT_ERROR with the code.
 */
export function authMiddleware(guard: HandshakeGuard, logger: Logger) {
  const log = logger.child({ module: 'auth' });
  const refuse = (socket: GatewaySocket, next: (err?: Error) => void, err: unknown) => {
    const gwErr = toGatewayError(err);
    guard.refused?.(gwErr.code);
    log.warn('handshake refused', { socket_id: socket.id, namespace: socket.nsp.name, code: gwErr.code, reason: gwErr.message, address: socket.handshake.address });
    next(connectError(gwErr));
  };
  return (socket: GatewaySocket, next: (err?: Error) => void): void => {
    let principal: Principal;
    let token: string | undefined;
    try {
      if (guard.maxConnections > 0 && guard.connectionCount() > guard.maxConnections) {
        throw new GatewayError(ErrorCodes.CONNECTION_LIMIT, 'Server at capacity, try again later', { [CAPACITY_DETAIL]: true });
      }
      token = handshakeToken(socket.handshake);
      principal = guard.verify(token);
    } catch (err) {
      return refuse(socket, next, err);
    }
    const first = !(socket.conn as unknown as AdmittedConn)[ADMISSION];
    admit(guard, socket, principal).then(
      () => {
        socket.data.principal = principal;
        socket.data.token = token!;
        if (first) guard.admitted?.(socket);
        next();
      },
      (err) => refuse(socket, next, err),
    );
  };
}
