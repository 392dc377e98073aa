import { createSigner } from 'fast-jwt';

/** A token for the development secret, printed at start-up so `npm start` is usable at once. */
export function issueDevToken(secret: string, ttlSeconds = 24 * 3600): string {
  // fast-jwt counts expiresIn in milliseconds.
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: ttlSeconds * 1000 });
  return sign({ sub: 'dev-user', name: 'Developer', email: 'dev@localhost', roles: ['admin'] });
}
