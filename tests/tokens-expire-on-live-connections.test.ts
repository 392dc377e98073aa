import { connectV2, connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';
import { closeNatives, connectAgents, connectStreaming, connectWorkspace } from './support/native';
import { adminToken, token } from './support/tokens';

cleanUpAfterEach();
afterEach(() => closeNatives());
const redis = useRedis();

/** A token that expires in `seconds` (JWT `exp` has one-second resolution). */
const shortLived = (sub: string, seconds = 3) => token({ sub }, { expiresIn: seconds });

describe('a live connection lives only as long as its token', () => {
  it('warns before expiry, keeps a connection that refreshes, and closes one that does not (Socket.IO v4 and v2)', async () => {
    const gw = await startGateway({ TOKEN_EXPIRY_WARNING_MS: '1500' });
    const refresher = await connectV4(urlOf(gw), shortLived('ruth'));
    const idle = await connectV4(urlOf(gw), shortLived('ivan'));
    const legacy = await connectV2(urlOf(gw), shortLived('lena'));
    // Every expectation of an event is registered before the event can happen.
    const idleSaw = Promise.all([waitFor(idle, 'error', () => true, 6000), waitFor(idle, 'disconnect', () => true, 6000)]);
    const legacySaw = Promise.all([waitFor(legacy, 'error', () => true, 6000), waitFor(legacy, 'disconnect', () => true, 6000)]);

    const warning = await waitFor(refresher, 'token_expiring', () => true, 4000);
    expect(warning).toEqual({ expires_at: expect.any(String), expires_in_ms: expect.any(Number) });
    expect(warning.expires_in_ms).toBeLessThanOrEqual(1500);
    const refreshed = await request(refresher, 'refresh_token', { token: token({ sub: 'ruth' }, { expiresIn: 3600 }) });
    expect(refreshed).toEqual({ ok: true, user_id: 'ruth', expires_at: expect.any(String) });
    expect(Date.parse(refreshed.expires_at)).toBeGreaterThan(Date.now() + 3_000_000);

    // The others are told why, then their connection closes; a client then reconnects with a
    // fresh token (a transport close, not a server-side namespace disconnect).
    const [idleError, idleGone] = await idleSaw;
    expect(idleError).toMatchObject({ type: 'error', code: 'AUTHENTICATION_FAILED', error: 'Token expired' });
    expect(idleGone).toBe('transport close');
    const [legacyError] = await legacySaw;
    expect(legacyError).toMatchObject({ code: 'AUTHENTICATION_FAILED', error: 'Token expired' });

    // The refreshed one outlived its first token.
    expect(refresher.connected).toBe(true);
    expect(await request(refresher, 'join_room', { room_id: 'still-here' })).toEqual({ ok: true, room_id: 'still-here' });
  });

  it("refuses another user's token, a bad one and an expired one, and the connection keeps its own", async () => {
    const gw = await startGateway();
    const socket = await connectV4(urlOf(gw), token({ sub: 'owner' }));
    expect(await request(socket, 'refresh_token', { token: token({ sub: 'intruder' }) })).toEqual({
      ok: false,
      error: { code: 'AUTHENTICATION_FAILED', message: 'Token is for another user' },
    });
    expect((await request(socket, 'refresh_token', { token: 'garbage' })).error).toMatchObject({ code: 'AUTHENTICATION_FAILED' });
    expect((await request(socket, 'refresh_token', { token: token({ sub: 'owner' }, { expiresIn: -5 }) })).error).toMatchObject({
      code: 'AUTHENTICATION_FAILED',
      message: 'Token expired',
    });
    // Still connected with the original token.
    expect(await request(socket, 'join_room', { room_id: 'ok' })).toMatchObject({ ok: true });
  });

  it('refreshes native connections through their own auth message and closes the others with 1008 "Token expired"', async () => {
    const gw = await startGateway({ TOKEN_EXPIRY_WARNING_MS: '1000' });
    const workspace = await connectWorkspace(gw, shortLived('wanda'));
    const agent = await connectAgents(gw, shortLived('arno'));
    const streaming = await connectStreaming(gw, shortLived('stella'));

    // Seed 001: the warning in its envelope, then {type: "auth", payload: {token}} → auth_success.
    expect(await agent.next('token_expiring', 4000)).toMatchObject({ payload: { expires_in_ms: expect.any(Number) }, timestamp: expect.any(Number) });
    agent.send({ type: 'auth', payload: { token: token({ sub: 'arno' }) } });
    expect(await agent.next('auth_success')).toMatchObject({ payload: { user_id: 'arno' } });
    // Seed 003: {type: "auth", data: {token}} on the live connection → auth_success.
    await streaming.next('token_expiring', 4000);
    streaming.send({ type: 'auth', data: { token: token({ sub: 'stella' }) } });
    expect(await streaming.next('auth_success')).toMatchObject({ data: { user_id: 'stella' } });

    // Seed 002 does not refresh: the error frame, then 1008.
    expect(await workspace.next('error', 5000)).toMatchObject({ type: 'error', code: 'AUTHENTICATION_FAILED', error: 'Token expired' });
    expect(await workspace.closed).toEqual({ code: 1008, reason: 'Token expired' });

    // The refreshed ones are still served after their first token's expiry.
    agent.send({ type: 'join_room', payload: { room_id: 'after' }, correlation_id: 'j1' });
    expect(await agent.next((f) => f.correlation_id === 'j1')).toMatchObject({ type: 'ack', payload: { room_id: 'after' } });
    streaming.send({ type: 'subscribe', data: { type: 'alerts' } });
    expect(await streaming.next('subscribed')).toMatchObject({ data: { type: 'alerts' } });
  });
});

describe('the admin API revokes a user', () => {
  it("closes every connection of the user on every pod, with the reason, and leaves the others", async () => {
    const [a, b] = await Promise.all([startGateway({ REDIS_URL: redis.url }), startGateway({ REDIS_URL: redis.url })]);
    const onA = await connectV4(urlOf(a), token({ sub: 'mallory' }), { namespace: '/workspace' });
    const onB = await connectWorkspace(b, token({ sub: 'mallory' }));
    const bystander = await connectV4(urlOf(b), token({ sub: 'alice' }));
    const errorOnA = waitFor(onA, 'error');
    const response = await fetch(urlOf(a, '/api/v1/ws/users/mallory/connections'), { method: 'DELETE', headers: { Authorization: `Bearer ${adminToken()}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ user_id: 'mallory', closed_on_this_pod: 1 });
    expect(await errorOnA).toMatchObject({ code: 'AUTHENTICATION_FAILED', error: 'Token revoked' });
    expect(await onB.closed).toEqual({ code: 1008, reason: 'Token revoked' });
    expect(await request(bystander, 'join_room', { room_id: 'r' })).toMatchObject({ ok: true });
    // Only admins may.
    const denied = await fetch(urlOf(b, '/api/v1/ws/users/alice/connections'), { method: 'DELETE', headers: { Authorization: `Bearer ${token({ sub: 'alice' })}` } });
    expect(denied.status).toBe(403);
  });
});
