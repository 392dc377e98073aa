import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import jwt, { type Algorithm, type JwtPayload } from 'jsonwebtoken';
import { ErrorCodes, GatewayError } from '../../shared/errors';
import type { JwtConfig } from '../config';
import { globToRegExp, type Principal } from './principal';

export type TokenVerifier = (token: string | undefined) => Principal;

const HMAC_ALGORITHMS: Algorithm[] = ['HS256', 'HS384', 'HS512'];
const RSA_ALGORITHMS: Algorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const EC_ALGORITHMS: Algorithm[] = ['ES256', 'ES384', 'ES512'];

/** Algorithms a PEM public key may verify, from the key's own type (never HMAC). */
function publicKeyAlgorithms(pem: string): Algorithm[] {
  const type = createPublicKey(pem).asymmetricKeyType;
  if (type === 'rsa' || type === 'rsa-pss') return RSA_ALGORITHMS;
  if (type === 'ec') return EC_ALGORITHMS;
  throw new Error(`JWT_PUBLIC_KEY: unsupported key type ${type}`);
}

function stringArray(value: unknown): string[] | null {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : null;
}

function toPrincipal(claims: JwtPayload): Principal {
  if (typeof claims.sub !== 'string' || claims.sub.length === 0) {
    throw new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'Token has no subject');
  }
  const name = typeof claims.name === 'string' ? claims.name : typeof claims.username === 'string' ? claims.username : claims.sub;
  const rooms = stringArray(claims.rooms);
  return Object.freeze({
    userId: claims.sub,
    username: name,
    email: typeof claims.email === 'string' ? claims.email : undefined,
    roles: Object.freeze(stringArray(claims.roles) ?? []),
    roomPatterns: rooms ? Object.freeze(rooms.map(globToRegExp)) : null,
    expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : undefined,
  });
}

/** The `alg` of a compact JWS header, read without decoding the payload; undefined if unreadable. */
function headerAlgorithm(token: string): string | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    const alg = (JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as { alg?: unknown }).alg;
    return typeof alg === 'string' ? alg : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Builds the verifier for the configured keys. The accepted algorithms are pinned per key: HMAC
 * only with JWT_SECRET, asymmetric only with JWT_PUBLIC_KEY, so `none` and HMAC-signed-with-the-
 * public-key tokens never pass. `exp` and `nbf` are always checked; `iss`/`aud` when configured.
 */
export function createTokenVerifier(config: JwtConfig): TokenVerifier {
  // Key objects made once: given a string, jsonwebtoken re-parses it on every verify (first trying
  // it as a PEM public key), which costs ~40x the signature check itself.
  const keys: Array<{ algorithms: Algorithm[]; key: KeyObject }> = [];
  if (config.secret) keys.push({ algorithms: HMAC_ALGORITHMS, key: createSecretKey(Buffer.from(config.secret, 'utf8')) });
  if (config.publicKey) keys.push({ algorithms: publicKeyAlgorithms(config.publicKey), key: createPublicKey(config.publicKey) });
  if (keys.length === 0) throw new Error('No JWT key configured');

  return (token) => {
    if (!token) throw new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'Missing token');
    const alg = headerAlgorithm(token);
    const entry = alg && keys.find((k) => k.algorithms.includes(alg as Algorithm));
    if (!entry) throw new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'Invalid token');
    let claims: string | JwtPayload;
    try {
      claims = jwt.verify(token, entry.key, {
        algorithms: entry.algorithms,
        issuer: config.issuer,
        audience: config.audience,
      });
    } catch (err) {
      const reason = err instanceof jwt.TokenExpiredError ? 'Token expired' : err instanceof jwt.NotBeforeError ? 'Token not yet valid' : 'Invalid token';
      throw new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, reason);
    }
    if (typeof claims === 'string') throw new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'Invalid token');
    return toPrincipal(claims);
  };
}
