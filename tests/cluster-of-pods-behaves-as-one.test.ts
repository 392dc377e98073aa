import { closeClients, connectV2, connectV4, request, waitFor } from './support/clients';
import { killPods, PodProcess } from './support/pods';
import { TestRedis } from './support/redis';
import { adminToken, token } from './support/tokens';

let redis: TestRedis;

beforeAll(async () => {
  redis = await TestRedis.start();
});
afterEach(async () => {
  closeClients();
  await killPods();
});
afterAll(async () => {
  await redis.stop();
});

const ids = (state: { users: Array<{ user_id: string }> }) => state.users.map((u) => u.user_id);
// The test pods beat every 500 ms with a 2 s TTL: a dead pod is reaped within TTL + one beat.
const GHOST_BOUND_MS = 2000 + 500 + 1500;

describe('three pods on one Redis', () => {
  it('share presence, count every connection, and drop a SIGKILLed pod\u2019s users within the bound', async () => {
    const pods = await Promise.all([0, 1, 2].map(() => PodProcess.start({ REDIS_URL: redis.url })));
    const alice = await connectV4(pods[0].url, token({ sub: 'alice' }));
    const bob = await connectV2(pods[1].url, token({ sub: 'bob' }));
    const carol = await connectV4(pods[2].url, token({ sub: 'carol' }));
    const carolTab = await connectV4(pods[1].url, token({ sub: 'carol' }), { namespace: '/workspace' });

    await request(alice, 'join_room', { room_id: 'shared' });
    await request(bob, 'join_room', { room_id: 'shared' });
    const allThree = waitFor(alice, 'room_state', (s) => s.total_users === 3);
    await request(carol, 'join_room', { room_id: 'shared' });
    await request(carolTab, 'join_room', { room_id: 'shared' });
    expect(ids(await allThree)).toEqual(['alice', 'bob', 'carol']);

    // Events cross pods.
    const typing = waitFor(bob, 'user_typing_start');
    carol.emit('typing_start', { room: 'shared', cell_id: 'C3' });
    expect(await typing).toMatchObject({ user_id: 'carol', cell_id: 'C3' });

    // Stats are cluster-wide: four engine connections on three pods, one active room.
    const stats = await fetch(`${pods[0].url}/api/v1/ws/stats`, { headers: { Authorization: `Bearer ${adminToken()}` } }).then((r) => r.json() as Promise<any>);
    expect(stats).toMatchObject({ total_connections: 4, authenticated_connections: 4, rooms_active: 1, pods: 3, partial: false });
    const rooms = await fetch(`${pods[1].url}/api/v1/ws/rooms`, { headers: { Authorization: `Bearer ${adminToken()}` } }).then((r) => r.json() as Promise<any>);
    expect(rooms).toEqual([expect.objectContaining({ room_id: 'shared', user_count: 3 })]);
    expect(rooms[0].messages_sent).toBeGreaterThanOrEqual(5);

    // SIGKILL pod 2: carol's tab on pod 1 keeps her in the room; nobody else goes.
    const killedAt = Date.now();
    const afterKill = waitFor(alice, 'room_state', () => true, GHOST_BOUND_MS + 2000);
    expect(await pods[2].signal('SIGKILL')).toBeNull();
    const state = await afterKill;
    expect(Date.now() - killedAt).toBeLessThan(GHOST_BOUND_MS);
    expect(ids(state)).toEqual(['alice', 'bob', 'carol']);

    // Now kill pod 1 (bob and carol's last tab): both vanish from alice's room_state.
    const killedAgainAt = Date.now();
    const onlyAlice = waitFor(alice, 'room_state', (s) => s.total_users === 1, GHOST_BOUND_MS + 2000);
    await pods[1].signal('SIGKILL');
    expect(ids(await onlyAlice)).toEqual(['alice']);
    expect(Date.now() - killedAgainAt).toBeLessThan(GHOST_BOUND_MS);
  });

  it('stops gracefully on SIGTERM: exit 0, clients told, presence cleaned at once', async () => {
    // A presence TTL no wait below comes near: pod A cannot reap B, so bob can only leave alice's
    // room_state by B cleaning its own presence as it stops (with the suite's 2 s TTL the reaper
    // could do it too, from 1.5 s after the SIGTERM, and a tighter wait was the only tell).
    const [a, b] = await Promise.all([0, 1].map(() => PodProcess.start({ REDIS_URL: redis.url, PRESENCE_TTL_MS: '60000' })));
    const alice = await connectV4(a.url, token({ sub: 'alice' }));
    const bob = await connectV4(b.url, token({ sub: 'bob' }));
    await request(alice, 'join_room', { room_id: 'graceful' });
    const both = waitFor(alice, 'room_state', (s) => s.total_users === 2);
    await request(bob, 'join_room', { room_id: 'graceful' });
    await both;

    const bobDisconnected = waitFor(bob, 'disconnect');
    // The leaving pod cleans its own presence: the reaper cannot act for a minute.
    const aliceAlone = waitFor(alice, 'room_state', (s) => s.total_users === 1, 10_000);
    expect(await b.signal('SIGTERM')).toBe(0);
    expect(await bobDisconnected).toBe('transport close');
    expect(ids(await aliceAlone)).toEqual(['alice']);
  });
});
