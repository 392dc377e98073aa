import { MemoryPresenceStore, type PresenceStore } from '../server/cluster/presence';
import { RedisPresenceStore } from '../server/cluster/redis-presence';
import { useEmptyRedisEachTest, useRedis, type TestRedisClient } from './support/lifecycle';
import { useRedisCluster } from './support/redis-cluster';

/**
 * One contract, two implementations: the in-memory twin must behave like the Redis store for
 * everything a single pod can observe.
 */
function contract(name: string, make: (podId: string) => Promise<PresenceStore>) {
  describe(`${name} presence store`, () => {
    let store: PresenceStore;
    beforeEach(async () => {
      store = await make('pod-a');
      await store.heartbeat();
    });

    it('lists each user once however many connections, sorted by user id', async () => {
      await store.join('r', 'c1', { userId: 'bob', username: 'Bob' });
      await store.join('r', 'c2', { userId: 'alice', username: 'Alice', email: 'a@x' });
      await store.join('r', 'c3', { userId: 'alice', username: 'Alice', email: 'a@x' });
      const users = await store.list('r');
      expect(users.map((u) => u.user_id)).toEqual(['alice', 'bob']);
      expect(users[0]).toMatchObject({ username: 'Alice', email: 'a@x', room: 'r', status: 'online', cursor: null });
      expect(users[1]).not.toHaveProperty('email');
    });

    it('keeps a user until their last connection leaves, and says when they came and went', async () => {
      expect(await store.join('r', 'c1', { userId: 'alice', username: 'Alice' })).toBe(true);
      expect(await store.join('r', 'c2', { userId: 'alice', username: 'Alice' })).toBe(false);
      expect(await store.join('r', 'c2', { userId: 'alice', username: 'Alice' })).toBe(false);
      expect(await store.leave('r', 'c1')).toBe(false);
      expect((await store.list('r')).map((u) => u.user_id)).toEqual(['alice']);
      expect(await store.leave('r', 'c2')).toBe(true);
      expect(await store.leave('r', 'c2')).toBe(false);
      expect(await store.list('r')).toEqual([]);
      expect(await store.rooms()).toEqual([]);
    });

    it('takes the latest status and cursor from any of the user connections', async () => {
      await store.join('r', 'c1', { userId: 'alice', username: 'Alice' });
      await store.join('r', 'c2', { userId: 'alice', username: 'Alice' });
      await store.update('r', 'c1', { status: 'busy' });
      await new Promise((r) => setTimeout(r, 5)); // distinct millisecond timestamps
      await store.update('r', 'c2', { cursor: { x: 1, y: 2, cell: 'B2' } });
      const [alice] = await store.list('r');
      expect(alice).toMatchObject({ status: 'busy', cursor: { x: 1, y: 2, cell: 'B2' } });
    });

    it('ignores updates and leaves of unknown connections', async () => {
      await store.update('r', 'ghost', { status: 'away' });
      await store.leave('r', 'ghost');
      expect(await store.list('r')).toEqual([]);
    });

    it('counts users and lists a bounded sample of a large room', async () => {
      for (let i = 0; i < 30; i++) {
        await store.join('big', `c${i}`, { userId: `u${i % 20}`, username: `U${i % 20}` });
      }
      expect(await store.count('big')).toBe(20);
      expect(await store.count('none')).toBe(0);
      const sample = await store.list('big', 5);
      expect(sample.length).toBeGreaterThan(0);
      expect(sample.length).toBeLessThanOrEqual(5);
      expect(new Set(sample.map((u) => u.user_id)).size).toBe(sample.length);
      expect(await store.list('big', 20)).toHaveLength(20);
    });

    it('summarises rooms with their user counts', async () => {
      await store.join('r1', 'c1', { userId: 'a', username: 'a' });
      await store.join('r1', 'c2', { userId: 'a', username: 'a' });
      await store.join('r2', 'c3', { userId: 'b', username: 'b' });
      const rooms = (await store.rooms()).sort((x, y) => x.room.localeCompare(y.room));
      expect(rooms).toEqual([
        { room: 'r1', userCount: 1 },
        { room: 'r2', userCount: 1 },
      ]);
    });
  });
}

contract('in-memory', async () => new MemoryPresenceStore());

describe('with Redis', () => {
  const redis = useRedis();
  let client: TestRedisClient;
  useEmptyRedisEachTest(redis, (c) => (client = c));
  let clock = 1_000_000;
  const now = () => clock;

  contract('Redis', async (podId) => new RedisPresenceStore(client, podId, 2000, Date.now));

  it('reaps the entries of a pod whose heartbeat expired, and only that pod', async () => {
    const a = new RedisPresenceStore(client, 'pod-a', 2000, now);
    const b = new RedisPresenceStore(client, 'pod-b', 2000, now);
    await a.heartbeat();
    await b.heartbeat();
    await a.join('r', 's1', { userId: 'alice', username: 'Alice' });
    await b.join('r', 's2', { userId: 'bob', username: 'Bob' });
    await b.join('other', 's2', { userId: 'bob', username: 'Bob' });
    expect((await a.list('r')).map((u) => u.user_id)).toEqual(['alice', 'bob']);

    clock += 1500;
    await a.heartbeat();
    expect(await a.reap()).toEqual([]);
    clock += 1000; // pod-b last beat 2500 ms ago: past the 2000 ms TTL
    await a.heartbeat();
    expect((await a.reap()).sort((x, y) => x.room.localeCompare(y.room))).toEqual([
      { room: 'other', goneUsers: [{ userId: 'bob', username: 'Bob' }] },
      { room: 'r', goneUsers: [{ userId: 'bob', username: 'Bob' }] },
    ]);
    expect((await a.list('r')).map((u) => u.user_id)).toEqual(['alice']);
    expect(await a.rooms()).toEqual([{ room: 'r', userCount: 1 }]);
    expect(await a.reap()).toEqual([]);
  });

  it('leaves nothing behind when a pod closes', async () => {
    const a = new RedisPresenceStore(client, 'pod-a', 2000, now);
    await a.heartbeat();
    await a.join('r', 's1', { userId: 'alice', username: 'Alice' });
    await a.close();
    expect(await client.keys('rg:*')).toEqual([]);
  });
});

describe('on a Redis Cluster', () => {
  const redis = useRedisCluster({ emptyEachTest: true });
  let clock = 1_000_000;
  const now = () => clock;

  contract('Redis Cluster', async (podId) => new RedisPresenceStore(redis.client, podId, 2000, Date.now));

  it("keeps a room's keys in one slot (the room is the hash tag), whatever the room id", async () => {
    const store = new RedisPresenceStore(redis.client, 'pod-a', 2000, Date.now);
    await store.heartbeat();
    const rooms = ['plain', 'a}b', '{x}', '}', '~tilde', 'sp ace/ü'];
    for (const [i, room] of rooms.entries()) {
      expect(await store.join(room, `c${i}`, { userId: `u${i}`, username: `U${i}` })).toBe(true);
      await store.update(room, `c${i}`, { status: 'busy' });
      expect(await store.list(room)).toEqual([expect.objectContaining({ user_id: `u${i}`, room, status: 'busy' })]);
    }
    expect(await redis.client.exists('rg:presence:{plain}')).toBe(1);
    expect(await redis.client.exists('rg:presence-users:{plain}')).toBe(1);
    expect((await store.rooms()).map((r) => r.room).sort()).toEqual([...rooms].sort());
    for (const [i, room] of rooms.entries()) expect(await store.leave(room, `c${i}`)).toBe(true);
    expect(await store.rooms()).toEqual([]);
  });

  it('reaps the entries of a pod whose heartbeat expired, room by room, and only that pod', async () => {
    const a = new RedisPresenceStore(redis.client, 'pod-a', 2000, now);
    const b = new RedisPresenceStore(redis.client, 'pod-b', 2000, now);
    await a.heartbeat();
    await b.heartbeat();
    // Rooms whose names hash to different slots, so different masters.
    const rooms = Array.from({ length: 12 }, (_, i) => `r${i}`);
    for (const room of rooms) {
      await a.join(room, 's1', { userId: 'alice', username: 'Alice' });
      await b.join(room, 's2', { userId: 'bob', username: 'Bob' });
    }
    clock += 1500;
    await a.heartbeat();
    expect(await a.reap()).toEqual([]);
    clock += 1000;
    await a.heartbeat();
    // Two survivors reaping at once: each room's users leave once.
    const c = new RedisPresenceStore(redis.client, 'pod-c', 2000, now);
    await c.heartbeat();
    const [byA, byC] = await Promise.all([a.reap(), c.reap()]);
    const reaped = [...byA, ...byC].sort((x, y) => x.room.localeCompare(y.room));
    expect(reaped).toEqual([...rooms].sort().map((room) => ({ room, goneUsers: [{ userId: 'bob', username: 'Bob' }] })));
    for (const room of rooms) expect((await a.list(room)).map((u) => u.user_id)).toEqual(['alice']);
    expect((await a.rooms()).length).toBe(rooms.length);
    expect(await a.reap()).toEqual([]);
    expect(await redis.cluster.keys('rg:pod:pod-b:*')).toEqual([]);
  });

  it('leaves nothing behind when a pod closes', async () => {
    const a = new RedisPresenceStore(redis.client, 'pod-a', 2000, now);
    await a.heartbeat();
    for (let i = 0; i < 6; i++) await a.join(`r${i}`, 's1', { userId: 'alice', username: 'Alice' });
    await a.close();
    expect(await redis.cluster.keys('rg:*')).toEqual([]);
  });

  it('writes its entries again after the master of their room lost them', async () => {
    const a = new RedisPresenceStore(redis.client, 'pod-a', 2000, now);
    await a.heartbeat();
    for (let i = 0; i < 6; i++) await a.join(`r${i}`, 's1', { userId: 'alice', username: 'Alice' });
    await redis.cluster.flushAll(); // as a master restarted without persistence would
    expect(await a.rooms()).toEqual([]);
    await a.resync();
    expect((await a.rooms()).map((r) => r.room).sort()).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
    expect((await a.list('r3')).map((u) => u.user_id)).toEqual(['alice']);
  });
});
