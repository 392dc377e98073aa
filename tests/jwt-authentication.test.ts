import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { issueDevToken } from '../server/auth/dev-token';
import { createTokenVerifier } from '../server/auth/verify';
import { connectV2, connectV4, refusedV4, request } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { rsaKeys, TEST_SECRET, token } from './support/tokens';
import { cleanUpAfterEach } from './support/lifecycle';

cleanUpAfterEach();

const now = () => Math.floor(Date.now() / 1000);

describe('JWT authentication at the handshake', () => {
  it('accepts a valid HS256 token from auth.token, ?token= and Authorization: Bearer', async () => {
    const gw = await startGateway();
    const t = token({ sub: 'alice' });
    await connectV4(urlOf(gw), t);
    await connectV4(urlOf(gw), undefined, { query: { token: t } });
    await connectV4(urlOf(gw), undefined, { extraHeaders: { Authorization: `Bearer ${t}` } });
    await connectV2(urlOf(gw), t);
  });

  it.each(['HS384', 'HS512'] as const)('accepts %s with JWT_SECRET', async (algorithm) => {
    const gw = await startGateway();
    await connectV4(urlOf(gw), jwt.sign({ sub: 'alice' }, TEST_SECRET, { algorithm }));
  });

  it('accepts RS256 and PS256 tokens with JWT_PUBLIC_KEY, and carries the claims into presence', async () => {
    const gw = await startGateway({ JWT_SECRET: undefined, JWT_PUBLIC_KEY: rsaKeys.publicKey });
    const rs = jwt.sign({ sub: 'rs-user', username: 'rs', email: 'rs@example.com' }, rsaKeys.privateKey, { algorithm: 'RS256' });
    const socket = await connectV4(urlOf(gw), rs);
    const joined = await request(socket, 'join_room', { room_id: 'r' });
    expect(joined.ok).toBe(true);
    expect(await gw.stores.presence.list('r')).toEqual([
      expect.objectContaining({ user_id: 'rs-user', username: 'rs', email: 'rs@example.com' }),
    ]);
    await connectV4(urlOf(gw), jwt.sign({ sub: 'ps' }, rsaKeys.privateKey, { algorithm: 'PS256' }));
  });

  it('accepts the development token printed at start-up, an admin for 24 hours', () => {
    const principal = createTokenVerifier({ secret: TEST_SECRET, generated: true })(issueDevToken(TEST_SECRET));
    expect(principal).toMatchObject({ userId: 'dev-user', roles: ['admin'] });
    expect(Math.abs(principal.expiresAt! - Date.now() - 24 * 3600_000)).toBeLessThan(5000);
  });

  describe('refuses with AUTHENTICATION_FAILED', () => {
    /** An HS256 token signed with the test secret, whatever its claims (jsonwebtoken refuses to sign a bad `exp`). */
    const hs256 = (payload: object) => {
      const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(payload)}`;
      return `${input}.${createHmac('sha256', TEST_SECRET).update(input).digest('base64url')}`;
    };
    // Every row has all three fields: jest passes a `done` callback in place of a missing one.
    const cases: Array<[string, () => string | undefined, Record<string, string | undefined>]> = [
      ['no token', () => undefined, {}],
      ['garbage', () => 'not-a-jwt', {}],
      ['an expired token', () => token({ sub: 'a' }, { expiresIn: -10 }), {}],
      ['a token not yet valid', () => token({ sub: 'a' }, { notBefore: 3600 }), {}],
      ['a wrong signature', () => jwt.sign({ sub: 'a', exp: now() + 60 }, 'some-other-secret-of-enough-length', { algorithm: 'HS256' }), {}],
      ['no subject', () => jwt.sign({ name: 'x' }, TEST_SECRET, { algorithm: 'HS256' }), {}],
      ['alg none', () => jwt.sign({ sub: 'a', exp: now() + 60 }, '', { algorithm: 'none' }), {}],
      ['a wrong issuer', () => token({ sub: 'a' }, { issuer: 'evil' }), { JWT_ISSUER: 'https://issuer.example' }],
      ['a missing issuer', () => token({ sub: 'a' }), { JWT_ISSUER: 'https://issuer.example' }],
      ['a wrong audience', () => token({ sub: 'a' }, { audience: 'other' }), { JWT_AUDIENCE: 'gateway' }],
      ['a missing audience', () => token({ sub: 'a' }), { JWT_AUDIENCE: 'gateway' }],
      ['an exp that is not a number', () => hs256({ sub: 'a', exp: 'never' }), {}],
    ];
    it.each(cases)('%s', async (_name, make, env) => {
      const gw = await startGateway(env);
      const err = await refusedV4(urlOf(gw), make());
      expect(err.message).toBe('AUTHENTICATION_FAILED');
      expect(err.data?.code).toBe('AUTHENTICATION_FAILED');
      expect(typeof err.data?.message).toBe('string');
    });

    it('an HS256 token signed with the RS public key (algorithm confusion)', async () => {
      const gw = await startGateway({ JWT_SECRET: undefined, JWT_PUBLIC_KEY: rsaKeys.publicKey });
      const forged = jwt.sign({ sub: 'a', exp: now() + 60 }, rsaKeys.publicKey, { algorithm: 'HS256', allowInsecureKeySizes: true } as jwt.SignOptions);
      const err = await refusedV4(urlOf(gw), forged);
      expect(err.data?.code).toBe('AUTHENTICATION_FAILED');
    });

    it('an RS256 token when only JWT_SECRET is configured', async () => {
      const gw = await startGateway();
      const err = await refusedV4(urlOf(gw), jwt.sign({ sub: 'a' }, rsaKeys.privateKey, { algorithm: 'RS256' }));
      expect(err.data?.code).toBe('AUTHENTICATION_FAILED');
    });

    it('on feature namespaces too', async () => {
      const gw = await startGateway();
      const err = await refusedV4(urlOf(gw), 'bad', { namespace: '/workspace' });
      expect(err.data?.code).toBe('AUTHENTICATION_FAILED');
    });

    it('for a legacy v2 client, in its error event', async () => {
      const gw = await startGateway();
      await expect(connectV2(urlOf(gw), 'bad')).rejects.toMatchObject({ data: { code: 'AUTHENTICATION_FAILED' } });
    });
  });

  it('accepts a matching issuer and audience', async () => {
    const gw = await startGateway({ JWT_ISSUER: 'https://issuer.example', JWT_AUDIENCE: 'gateway' });
    await connectV4(urlOf(gw), token({ sub: 'a' }, { issuer: 'https://issuer.example', audience: 'gateway' }));
  });

  it('lets the rooms claim decide which rooms a user may join', async () => {
    const gw = await startGateway();
    const socket = await connectV4(urlOf(gw), token({ sub: 'a', rooms: ['team-*', 'lobby'] }));
    expect((await request(socket, 'join_room', { room_id: 'team-red' })).ok).toBe(true);
    expect((await request(socket, 'join_room', { room_id: 'lobby' })).ok).toBe(true);
    expect(await request(socket, 'join_room', { room_id: 'other' })).toEqual({
      ok: false,
      error: { code: 'PERMISSION_DENIED', message: 'Not allowed to join room other', room_id: 'other' },
    });
    expect((await request(socket, 'join_room', { room_id: 'lobby2' })).ok).toBe(false);
  });

  it('refuses connections beyond MAX_CONNECTIONS with CONNECTION_LIMIT', async () => {
    const gw = await startGateway({ MAX_CONNECTIONS: '2' });
    await connectV4(urlOf(gw), token({ sub: 'a' }));
    await connectV4(urlOf(gw), token({ sub: 'b' }));
    const err = await refusedV4(urlOf(gw), token({ sub: 'c' }));
    expect(err.data?.code).toBe('CONNECTION_LIMIT');
  });
});
