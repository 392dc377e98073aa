import { generateKeyPairSync } from 'node:crypto';
import jwt, { type SignOptions } from 'jsonwebtoken';

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256';

export const rsaKeys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

export interface TestClaims {
  sub: string;
  name?: string;
  username?: string;
  email?: string;
  roles?: string[];
  rooms?: string[];
  [claim: string]: unknown;
}

/** An HS256 token for TEST_SECRET, valid for an hour unless options say otherwise. */
export function token(claims: TestClaims, options: SignOptions = {}): string {
  return jwt.sign({ name: claims.sub, email: `${claims.sub}@example.com`, ...claims }, TEST_SECRET, {
    algorithm: 'HS256',
    expiresIn: 3600,
    ...options,
  });
}

export const adminToken = () => token({ sub: 'admin', roles: ['admin'] });
