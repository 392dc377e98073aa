import { ErrorCodes, GatewayError, refusal } from '../../shared/errors';
import type { Principal } from '../auth/principal';
import { Deadlines } from '../deadlines';
import type { GatewaySocket } from '../types';
import type { Feature } from './context';

/** How precisely warnings and expiries are timed. */
const TICK_MS = 250;

/** The sockets of one connection: a Socket.IO client's namespaces share its token. */
function connectionSockets(socket: GatewaySocket): GatewaySocket[] {
  const client = (socket as unknown as { client?: { sockets?: Map<string, GatewaySocket> } }).client;
  return client?.sockets ? [...client.sockets.values()] : [socket];
}

/**
 * Tokens stay valid on live connections only while they are valid (their `exp`):
 * TOKEN_EXPIRY_WARNING_MS before expiry the socket gets `token_expiring {expires_at,
 * expires_in_ms}`; a `refresh_token {token}` with a fresh token for the same user (native seeds:
 * their `auth` message, which the bridge turns into refresh_token) moves the expiry; at expiry
 * the connection is closed with AUTHENTICATION_FAILED "Token expired" (native: 1008). A guard
 * refuses messages of an expired token in the moment before its timer fires.
 */
export const registerLiveTokens: Feature = (ctx) => {
  const warnMs = ctx.config.tokenExpiryWarningMs;

  const warn = (socket: GatewaySocket) => {
    const expiresAt = socket.data.principal.expiresAt;
    if (expiresAt === undefined || !socket.connected) return;
    socket.emit('token_expiring', { expires_at: new Date(expiresAt).toISOString(), expires_in_ms: Math.max(0, expiresAt - Date.now()) });
  };

  const expire = (socket: GatewaySocket) => {
    const expiresAt = socket.data.principal.expiresAt;
    if (expiresAt === undefined || socket.disconnected) return;
    if (expiresAt > Date.now()) return schedule(socket); // refreshed meanwhile
    ctx.metrics.tokenExpired();
    ctx.disconnect(socket, new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'Token expired'));
  };

  // One entry per socket: its warning first (tag WARNING), then, once warned, its expiry.
  const WARNING = 1;
  const EXPIRY = 0;
  const deadlines = new Deadlines<GatewaySocket>(TICK_MS, (socket, tag) => {
    if (tag !== WARNING) return expire(socket);
    warn(socket);
    const expiresAt = socket.data.principal.expiresAt;
    if (expiresAt === undefined || socket.disconnected) return;
    if (expiresAt <= Date.now()) expire(socket); // due in the same tick as its warning
    else deadlines.set(socket, expiresAt, EXPIRY);
  });

  const clear = (socket: GatewaySocket) => deadlines.delete(socket);

  const schedule = (socket: GatewaySocket) => {
    const expiresAt = socket.data.principal.expiresAt;
    if (expiresAt === undefined) return clear(socket);
    if (warnMs > 0) deadlines.set(socket, expiresAt - warnMs, WARNING); // now, if that is past
    else deadlines.set(socket, expiresAt, EXPIRY);
  };

  ctx.onConnect(schedule);
  ctx.onDisconnect(clear);

  ctx.guard({
    name: 'token',
    check({ socket, type }) {
      const expiresAt = socket.data.principal.expiresAt;
      if (expiresAt !== undefined && expiresAt <= Date.now() && type !== 'refresh_token') {
        throw refusal(ErrorCodes.AUTHENTICATION_FAILED, 'Token expired: send refresh_token with a fresh token');
      }
    },
  });

  ctx.handle('refresh_token', ({ token }, call) => {
    const principal: Principal = ctx.verify(token);
    if (principal.userId !== call.principal.userId) {
      throw new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'Token is for another user');
    }
    for (const socket of connectionSockets(call.socket)) {
      socket.data.principal = principal;
      socket.data.token = token;
      schedule(socket);
    }
    call.log.debug('token refreshed', { expires_at: principal.expiresAt });
    return { user_id: principal.userId, expires_at: principal.expiresAt === undefined ? null : new Date(principal.expiresAt).toISOString() };
  });

  return () => deadlines.stop();
};
