import { connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { token } from './support/tokens';
import { until } from './support/until';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';

const redis = useRedis();
cleanUpAfterEach();

async function readiness(port: number): Promise<number> {
  return fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status);
}

describe('Redis stops and comes back', () => {
  it('keeps every pod up, reports not ready meanwhile, and restores cross-pod delivery and presence', async () => {
    const a = await startGateway({ REDIS_URL: redis.url });
    const b = await startGateway({ REDIS_URL: redis.url });
    const alice = await connectV4(urlOf(a), token({ sub: 'alice' }));
    const bob = await connectV4(urlOf(b), token({ sub: 'bob' }));
    await request(alice, 'join_room', { room_id: 'r' });
    await request(bob, 'join_room', { room_id: 'r' });
    const before = waitFor(bob, 'user_typing_start');
    alice.emit('typing_start', { room: 'r' });
    await before;

    await redis.server.kill();
    await until(async () => (await readiness(a.port)) === 503 && (await readiness(b.port)) === 503, 10_000, 'readyz 503 during the outage');
    expect(await fetch(`${urlOf(a)}/healthz`).then((r) => r.status)).toBe(200);
    // Clients stay connected; a message that needs Redis state fails cleanly.
    expect(alice.connected && bob.connected).toBe(true);
    const during = await request(alice, 'join_room', { room_id: 'during-outage' });
    expect(during).toMatchObject({ ok: false, error: { code: 'UPSTREAM_UNAVAILABLE' } });

    await redis.server.startProcess();
    await until(async () => (await readiness(a.port)) === 200 && (await readiness(b.port)) === 200, 15_000, 'readyz 200 after Redis returned');

    // Subscriptions are back: a broadcast from pod A reaches pod B again.
    const after = waitFor(bob, 'user_typing_start', () => true, 10_000);
    alice.emit('typing_start', { room: 'r', cell_id: 'after' });
    expect(await after).toMatchObject({ user_id: 'alice', cell_id: 'after' });
    const back = waitFor(alice, 'user_typing_start', () => true, 10_000);
    bob.emit('typing_start', { room: 'r', cell_id: 'back' });
    expect(await back).toMatchObject({ user_id: 'bob', cell_id: 'back' });

    // Redis came back empty; the pods wrote their presence again.
    await until(async () => (await a.stores.presence.list('r')).length === 2, 5_000, 'presence resynced');
    const state = waitFor(bob, 'room_state', (s) => s.total_users === 2);
    await request(alice, 'join_room', { room_id: 'r' });
    await state;
  }, 60_000);
});
