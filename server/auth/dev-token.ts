import jwt from 'jsonwebtoken';

/** A token for the development secret, printed at start-up so `npm start` is usable at once. */
export function issueDevToken(secret: string, ttlSeconds = 24 * 3600): string {
  return jwt.sign({ sub: 'dev-user', name: 'Developer', email: 'dev@localhost', roles: ['admin'] }, secret, {
    algorithm: 'HS256',
    expiresIn: ttlSeconds,
  });
}
