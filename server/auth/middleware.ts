import { CAPACITY_DETAIL, ErrorCodes, GatewayError, toGatewayError, type ErrorCode } from '../../shared/errors';
import type { Limits, RateDecision } from '../cluster/limits';
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
/**
 * What an admitted connection keeps: the user id when its connection is counted (released on
 * close), `true` when it is not; while its admission waits for an answer (Redis), the promise
 * (a Socket.IO client's namespaces share it); once refused, the rejected promise.
 */
type Admission = Promise<void> | string | true;
type AdmittedConn = { [ADMISSION]?: Admission; id: string; request: Parameters<AddressOf>[0]; on(event: 'close', fn: (this: AdmittedConn) => void): unknown };

const noop = () => undefined;

const blockedError = (blocked: RateDecision) =>
  new GatewayError(ErrorCodes.RATE_LIMIT_EXCEEDED, 'Rate limit exceeded: blocked, try again later', { retry_after_ms: blocked.retryAfterMs });
const perUserError = (limit: number) => new GatewayError(ErrorCodes.CONNECTION_LIMIT, `At most ${limit} connections per user`, { limit });

/**
 * A connection's admission, once per engine.io connection (a Socket.IO client's namespaces share
 * it): the client address's connection rate (CONNECTIONS_PER_IP_PER_MINUTE, across pods), then
 * whether the user is blocked, then the user's connections across pods
 * (WEBSOCKET_MAX_CONNECTIONS_PER_USER). The user's count is released when the connection closes.
 *
 * Answered synchronously (no promise, no closure) while every check can be: a limit that is off,
 * or counted in this process; from the first check that needs Redis, by the returned promise.
 * Throws (synchronously) a refusal decided synchronously.
 */
class Admissions {
  /** One close listener for every counted connection (`this` is the connection). */
  private readonly release: (this: AdmittedConn) => void;

  constructor(private readonly guard: HandshakeGuard) {
    const { connections } = guard.limits;
    this.release = function (this: AdmittedConn) {
      const userId = this[ADMISSION];
      if (typeof userId !== 'string') return;
      if (connections.closeNow) connections.closeNow(userId, this.id);
      else void connections.close(userId, this.id).catch(noop);
    };
  }

  /** Undefined: admitted now. A promise: admitted when it resolves, refused when it rejects. */
  admit(conn: AdmittedConn, principal: Principal): Promise<void> | undefined {
    const known = conn[ADMISSION];
    if (known !== undefined) return typeof known === 'object' ? known : undefined;
    let admitted: string | true | undefined;
    try {
      admitted = this.admitNow(conn, principal);
    } catch (err) {
      const refused = Promise.reject(err);
      refused.catch(noop);
      conn[ADMISSION] = refused;
      throw err;
    }
    if (admitted !== undefined) {
      conn[ADMISSION] = admitted;
      return undefined;
    }
    const admission = this.admitLater(conn, principal);
    const pending = admission.then(noop);
    conn[ADMISSION] = pending;
    admission.then(
      (value) => (conn[ADMISSION] = value),
      noop,
    );
    return pending;
  }

  /** The checks that can answer synchronously; undefined from the first that cannot. */
  private admitNow(conn: AdmittedConn, principal: Principal): string | true | undefined {
    const { limits } = this.guard;
    if (!limits.ipConnectionsOff) return undefined;
    const blocked = limits.userBlockedNow?.(principal.userId);
    if (blocked === undefined) return undefined;
    if (!blocked.allowed) throw blockedError(blocked);
    const { connections } = limits;
    if (connections.limit <= 0) return true;
    if (!connections.openNow) return undefined;
    if (!connections.openNow(principal.userId, conn.id).accepted) throw perUserError(connections.limit);
    conn.on('close', this.release);
    return principal.userId;
  }

  private async admitLater(conn: AdmittedConn, principal: Principal): Promise<string | true> {
    const { limits } = this.guard;
    if (!limits.ipConnectionsOff) {
      const ip = await limits.ipConnection(this.guard.clientAddress(conn.request));
      if (!ip.allowed) {
        throw new GatewayError(ErrorCodes.CONNECTION_LIMIT, 'Too many new connections from this address, try again later', { retry_after_ms: ip.retryAfterMs });
      }
    }
    // A user blocked for going over the request budget is refused at the door: a client that
    // reconnects in a loop costs a handshake each time, not a hundred refused messages.
    const blocked = limits.userBlockedNow?.(principal.userId) ?? (await limits.userBlocked(principal.userId));
    if (!blocked.allowed) throw blockedError(blocked);
    const { connections } = limits;
    if (connections.limit <= 0) return true;
    const opened = connections.openNow ? connections.openNow(principal.userId, conn.id) : await connections.open(principal.userId, conn.id);
    if (!opened.accepted) throw perUserError(connections.limit);
    conn.on('close', this.release);
    return principal.userId;
  }
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
  const accept = (socket: GatewaySocket, next: (err?: Error) => void, principal: Principal, token: string, first: boolean) => {
    socket.data.principal = principal;
    socket.data.token = token;
    if (first) guard.admitted?.(socket);
    next();
  };
  const admissions = new Admissions(guard);
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
    const conn = socket.conn as unknown as AdmittedConn;
    const first = conn[ADMISSION] === undefined;
    let pending: Promise<void> | undefined;
    try {
      pending = admissions.admit(conn, principal);
    } catch (err) {
      return refuse(socket, next, err);
    }
    if (!pending) return accept(socket, next, principal, token!, first);
    pending.then(
      () => accept(socket, next, principal, token!, first),
      (err) => refuse(socket, next, err),
    );
  };
}
