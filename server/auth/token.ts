import type { IncomingHttpHeaders } from 'node:http';

/** The token of a bearer Authorization header, if any. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const value = headers.authorization;
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}

/** A Socket.IO handshake's token: `auth.token`, then `?token=`, then `Authorization: Bearer`. */
export function handshakeToken(handshake: {
  auth: Record<string, unknown>;
  query: Record<string, unknown>;
  headers: IncomingHttpHeaders;
}): string | undefined {
  const fromAuth = handshake.auth?.token;
  if (typeof fromAuth === 'string' && fromAuth) return fromAuth;
  const fromQuery = handshake.query?.token;
  if (typeof fromQuery === 'string' && fromQuery) return fromQuery;
  return bearerToken(handshake.headers);
}
