// Pods on a 3-master Redis Cluster (REDIS_CLUSTER_NODES) behave as pods on one Redis: presence,
// cluster-wide stats and room lists, the per-user connection cap and request budget, chat history,
// session sequencing and notifications are shared; a SIGKILLed pod's users leave every room
// within TTL + one heartbeat (reaped room by room, each room's keys in one slot).
import { parseSeed } from '../server/cluster/redis';
import { loadConfig } from '../server/config';
import type { Gateway } from '../server/gateway';
import { connectV4, refusedV4, request, waitFor } from './support/clients';
import { startGateway, testEnv, urlOf } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import { PodProcess } from './support/pods';
import { useRedisCluster } from './support/redis-cluster';
import { adminToken, token } from './support/tokens';

const redis = useRedisCluster();
cleanUpAfterEach();

// Rooms whose keys hash to slots of every master.
const ROOMS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
// The test pods beat every 500 ms with a 2 s TTL: a dead pod is reaped within TTL + one beat.
const GHOST_BOUND_MS = 2000 + 500 + 1500;
const ids = (state: { users: Array<{ user_id: string }> }) => state.users.map((u) => u.user_id).join(',');
const admin = { headers: { Authorization: `Bearer ${adminToken()}` } };

describe('pods on a Redis Cluster', () => {
  it('share presence, stats and the connection cap, and drop a SIGKILLed pod\u2019s users from every room within the bound', async () => {
    const env = { REDIS_CLUSTER_NODES: redis.cluster.seeds, WEBSOCKET_MAX_CONNECTIONS_PER_USER: '2' };
    const slots = await Promise.all(ROOMS.map(async (room) => Number(await redis.client.sendCommand(undefined, true, ['CLUSTER', 'KEYSLOT', room]))));
    expect(new Set(await Promise.all(slots.map((slot) => redis.cluster.nodeOfSlot(slot)))).size).toBe(3);
    // Pod 0 (alice's) reaps nobody within this test (a one-minute presence TTL); pod 1 reaps pod 2
    // with the suite's 2 s TTL. So when pod 1 stops, bob can only leave by pod 1 cleaning its own
    // presence: no timing is needed to tell that from the reaper.
    const pods = await Promise.all([0, 1, 2].map((i) => PodProcess.start(i === 0 ? { ...env, PRESENCE_TTL_MS: '60000' } : env)));
    const [alice, bob, carol] = await Promise.all(
      ['alice', 'bob', 'carol'].map((sub, i) => connectV4(pods[i].url, token({ sub }), { namespace: '/workspace' })),
    );
    for (const socket of [alice, bob]) for (const room of ROOMS) await request(socket, 'join_room', { room_id: room });
    const allThree = ROOMS.map((room) => waitFor(alice, 'room_state', (s) => s.room_id === room && s.total_users === 3));
    for (const room of ROOMS) expect(await request(carol, 'join_room', { room_id: room })).toMatchObject({ ok: true });
    for (const state of await Promise.all(allThree)) expect(ids(state)).toBe('alice,bob,carol');

    // Stats and the room list are cluster-wide.
    const stats = await fetch(`${pods[0].url}/api/v1/ws/stats`, admin).then((r) => r.json() as Promise<any>);
    expect(stats).toMatchObject({ total_connections: 3, rooms_active: ROOMS.length, pods: 3, partial: false });
    const rooms = await fetch(`${pods[1].url}/api/v1/ws/rooms`, admin).then((r) => r.json() as Promise<any>);
    expect(rooms.map((r: { room_id: string; user_count: number }) => `${r.room_id}:${r.user_count}`).sort()).toEqual(ROOMS.map((room) => `${room}:3`));

    // At most two connections per user, counted on every pod.
    await connectV4(pods[0].url, token({ sub: 'dave' }));
    await connectV4(pods[2].url, token({ sub: 'dave' }));
    expect((await refusedV4(pods[1].url, token({ sub: 'dave' }))).data).toMatchObject({ code: 'CONNECTION_LIMIT', limit: 2 });

    // SIGKILL pod 2: carol leaves every room, and dave's connection there stops counting.
    const killedAt = Date.now();
    const withoutCarol = ROOMS.map((room) => waitFor(alice, 'room_state', (s) => s.room_id === room && s.total_users === 2, GHOST_BOUND_MS + 2000));
    expect(await pods[2].signal('SIGKILL')).toBeNull();
    for (const state of await Promise.all(withoutCarol)) expect(ids(state)).toBe('alice,bob');
    expect(Date.now() - killedAt).toBeLessThan(GHOST_BOUND_MS);
    await connectV4(pods[1].url, token({ sub: 'dave' }));

    // SIGTERM pod 1: a clean stop (exit 0, adapter and cluster connections closed), bob gone at once.
    const onlyAlice = ROOMS.map((room) => waitFor(alice, 'room_state', (s) => s.room_id === room && s.total_users === 1, 10_000));
    expect(await pods[1].signal('SIGTERM')).toBe(0);
    for (const state of await Promise.all(onlyAlice)) expect(ids(state)).toBe('alice');
  }, 45_000);

  it('share chat history, session versions, notifications and request budgets', async () => {
    const env = { REDIS_CLUSTER_NODES: redis.cluster.seeds };
    const [a, b]: Gateway[] = await Promise.all([startGateway(env), startGateway(env)]);

    // Chat: history written on pod A, read on pod B.
    const ann = await connectV4(urlOf(a), token({ sub: 'ann' }), { namespace: '/chat' });
    const ben = await connectV4(urlOf(b), token({ sub: 'ben' }), { namespace: '/chat' });
    for (const s of [ann, ben]) await request(s, 'join_room', { room_id: 'lobby' });
    for (let i = 0; i < 3; i++) expect(await request(ann, 'message', { content: `m${i}` })).toMatchObject({ ok: true });
    expect((await request(ben, 'history', { limit: 10 })).messages.map((m: { content: string }) => m.content)).toEqual(['m0', 'm1', 'm2']);

    // Sessions: two pods race on one version; exactly one edit is sequenced.
    const [u1, u2] = await Promise.all([connectV4(urlOf(a), token({ sub: 'u1' }), { namespace: '/workspace' }), connectV4(urlOf(b), token({ sub: 'u2' }), { namespace: '/workspace' })]);
    for (const s of [u1, u2]) expect(await request(s, 'join_session', { sessionId: 'doc-1' })).toMatchObject({ ok: true, version: 0 });
    const edits = await Promise.all([u1, u2].map((s) => request(s, 'edit', { sessionId: 'doc-1', operation: 'insert', position: 0, content: 'x', version: 0 })));
    expect(edits.filter((e) => e.ok)).toEqual([{ ok: true, sessionId: 'doc-1', version: 1 }]);

    // Notifications: created through pod A for ann, delivered on pod B, read on pod A, for ann only.
    const annTab = await connectV4(urlOf(b), token({ sub: 'ann' }), { namespace: '/notifications' });
    const annOnA = await connectV4(urlOf(a), token({ sub: 'ann' }), { namespace: '/notifications' });
    for (const s of [annTab, annOnA]) await request(s, 'subscribe_notifications', {});
    const delivered = waitFor(annTab, 'notification_event', (e) => e.event_type === 'notification_created');
    const res = await fetch(urlOf(a, '/api/v1/ws/broadcast/notification?event_type=notification_created'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken()}` },
      body: JSON.stringify({ title: 'hello', message: 'for ann', category: 'workspace', priority: 'normal', user_id: 'ann' }),
    });
    expect(res.status).toBe(201);
    const { notification } = await delivered;
    expect(await request(annOnA, 'notification_read', { notification_id: notification.id })).toMatchObject({ ok: true, read: true });
    expect((await request(annTab, 'subscribe_notifications', {})).unread_count).toBe(0);

    // Request budgets: one user's requests on two pods count against one budget.
    const [c, d] = await Promise.all([startGateway({ ...env, WEBSOCKET_REQUESTS_PER_MINUTE: '5' }), startGateway({ ...env, WEBSOCKET_REQUESTS_PER_MINUTE: '5' })]);
    const onC = await connectV4(urlOf(c), token({ sub: 'budget' }));
    const onD = await connectV4(urlOf(d), token({ sub: 'budget' }));
    for (const room of ['r1', 'r2', 'r3']) expect(await request(onC, 'join_room', { room_id: room })).toMatchObject({ ok: true });
    for (const room of ['r4', 'r5']) expect(await request(onD, 'join_room', { room_id: room })).toMatchObject({ ok: true });
    expect((await request(onD, 'join_room', { room_id: 'r6' })).error).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', scope: 'user' });
  }, 30_000);
});

describe('REDIS_CLUSTER_NODES', () => {
  it('takes seeds as host:port or redis:// URLs, and refuses a bad seed or REDIS_URL beside it', () => {
    const config = loadConfig(testEnv({ REDIS_CLUSTER_NODES: ' 10.0.0.1:7000, redis-0.redis:6379 ,rediss://:s3cret@[::1]:7001' }));
    expect(config.redisCluster).toEqual({ nodes: ['redis://10.0.0.1:7000', 'redis://redis-0.redis:6379', 'rediss://:s3cret@[::1]:7001'] });
    expect(config.redisUrl).toBeUndefined();
    expect(loadConfig(testEnv()).redisCluster).toBeUndefined();
    expect(() => loadConfig(testEnv({ REDIS_CLUSTER_NODES: '10.0.0.1' }))).toThrow(/REDIS_CLUSTER_NODES: "10.0.0.1" is not host:port/);
    expect(() => loadConfig(testEnv({ REDIS_CLUSTER_NODES: 'http://x:1' }))).toThrow(/REDIS_CLUSTER_NODES/);
    expect(() => loadConfig(testEnv({ REDIS_CLUSTER_NODES: '10.0.0.1:7000', REDIS_URL: 'redis://10.0.0.1:6379' }))).toThrow(/not both/);
  });

  it('reads a seed whose scheme is in capitals as the node it names', () => {
    const [seed] = loadConfig(testEnv({ REDIS_CLUSTER_NODES: 'REDIS://redis-0.redis:7000' })).redisCluster!.nodes;
    expect(parseSeed(seed)).toMatchObject({ host: 'redis-0.redis', port: 7000, tls: false });
    expect(parseSeed('ReDiSs://10.0.0.2:7001')).toMatchObject({ host: '10.0.0.2', port: 7001, tls: true });
  });
});
