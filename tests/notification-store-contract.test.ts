import { MemoryNotificationStore, RedisNotificationStore, type NotificationStore, type StoredNotification } from '../server/cluster/notifications';
import { useEmptyRedisEachTest, useRedis, type TestRedisClient } from './support/lifecycle';
import { useRedisCluster } from './support/redis-cluster';


const T0 = Date.parse('2024-01-15T10:30:00.000Z');

/** A notification created `i` seconds after T0, for `user` (null: every user). */
const note = (id: string, i: number, user: string | null, extra: Partial<StoredNotification> = {}): StoredNotification => ({
  id,
  title: `title ${id}`,
  message: `message ${id}`,
  category: 'workspace',
  priority: 'normal',
  module_name: 'tables',
  created_at: new Date(T0 + i * 1000).toISOString(),
  user_id: user,
  ...extra,
});

const ids = (list: { id: string }[]) => list.map((n) => n.id);
const unreadIds = (list: { id: string; read: boolean }[]) => ids(list.filter((n) => !n.read));

/** One contract for both implementations (cap 3). */
function contract(name: string, make: () => NotificationStore) {
  describe(`${name} notification store`, () => {
    let s: NotificationStore;
    beforeEach(() => {
      s = make();
    });

    it("merges a user's own and the broadcast notifications newest first, unread, and keeps them apart per user", async () => {
      await s.add(note('a1', 1, 'alice'));
      await s.add(note('b1', 2, null));
      await s.add(note('a2', 3, 'alice', { module_name: null, data: { url: '/sheets/1', n: 2 } }));
      await s.add(note('x1', 4, 'bob'));
      const alice = await s.forUser('alice');
      expect(ids(alice)).toEqual(['a2', 'b1', 'a1']);
      expect(alice.every((n) => n.read === false)).toBe(true);
      expect(alice[0]).toEqual({ ...note('a2', 3, 'alice', { module_name: null, data: { url: '/sheets/1', n: 2 } }), read: false });
      expect(ids(await s.forUser('bob'))).toEqual(['x1', 'b1']);
      expect(ids(await s.forUser('carol'))).toEqual(['b1']);
    });

    it('caps each list to the newest notifications', async () => {
      for (let i = 0; i < 5; i++) await s.add(note(`a${i}`, i, 'alice'));
      for (let i = 0; i < 5; i++) await s.add(note(`b${i}`, 10 + i, null));
      expect(ids(await s.forUser('alice'))).toEqual(['b4', 'b3', 'b2', 'a4', 'a3', 'a2']);
    });

    it('marks read per user: own ones, broadcast ones for that user only; unknown and foreign ids are refused', async () => {
      await s.add(note('a1', 1, 'alice'));
      await s.add(note('b1', 2, null));
      await s.add(note('x1', 3, 'bob'));
      expect(await s.markRead('alice', 'a1')).toBe('marked');
      expect(await s.markRead('alice', 'a1')).toBe('already_read');
      expect(await s.markRead('alice', 'b1')).toBe('marked');
      expect(await s.markRead('alice', 'x1')).toBe('unknown');
      expect(await s.markRead('alice', 'nope')).toBe('unknown');
      // Ids that would match a naive prefix or pattern search match nothing.
      for (const tricky of ['"', 'a', '*', '%', '{"id":"a1"', 'a1",']) expect(await s.markRead('alice', tricky)).toBe('unknown');
      expect(unreadIds(await s.forUser('alice'))).toEqual([]);
      expect(unreadIds(await s.forUser('bob'))).toEqual(['x1', 'b1']);
      expect(unreadIds(await s.forUser('carol'))).toEqual(['b1']);
    });

    it('lets exactly one of concurrent marks of the same notification mark it', async () => {
      await s.add(note('b1', 1, null));
      const results = await Promise.all(Array.from({ length: 10 }, () => s.markRead('alice', 'b1')));
      expect(results.filter((r) => r === 'marked')).toHaveLength(1);
      expect(results.filter((r) => r === 'already_read')).toHaveLength(9);
    });

    it('forgets a trimmed notification: it can no longer be marked, and the read state of the kept ones holds', async () => {
      for (let i = 0; i < 3; i++) await s.add(note(`a${i}`, i, 'alice'));
      expect(await s.markRead('alice', 'a0')).toBe('marked');
      expect(await s.markRead('alice', 'a2')).toBe('marked');
      for (let i = 3; i < 5; i++) await s.add(note(`a${i}`, i, 'alice'));
      expect(await s.markRead('alice', 'a0')).toBe('unknown');
      const alice = await s.forUser('alice');
      expect(alice.map((n) => [n.id, n.read])).toEqual([
        ['a4', false],
        ['a3', false],
        ['a2', true],
      ]);
    });
  });
}

contract('in-memory', () => new MemoryNotificationStore(3));

it("in memory too, a user's read set stays bounded by what the lists still hold", async () => {
  const s = new MemoryNotificationStore(3);
  const readSet = () => (s as unknown as { read: Map<string, Set<string>> }).read.get('alice')!;
  for (let i = 0; i < 20; i++) {
    await s.add(note(`b${i}`, i, null));
    expect(await s.markRead('alice', `b${i}`)).toBe('marked');
    expect(readSet().size).toBeLessThanOrEqual(6);
  }
  expect(unreadIds(await s.forUser('alice'))).toEqual([]);
});

describe('with Redis', () => {
  const redis = useRedis();
  let client: TestRedisClient;
  useEmptyRedisEachTest(redis, (c) => (client = c));

  contract('Redis', () => new RedisNotificationStore(client, 3, 3600));

  it('gives every key a time to live, and a subscribe keeps the read set alive', async () => {
    const s = new RedisNotificationStore(client, 3, 3600);
    await s.add(note('a1', 1, 'alice'));
    await s.add(note('b1', 2, null));
    await s.markRead('alice', 'b1');
    const keys = (await client.keys('rg:notifications:*')).sort();
    expect(keys).toEqual(['rg:notifications:broadcast', 'rg:notifications:read:alice', 'rg:notifications:user:alice']);
    for (const key of keys) expect(await client.ttl(key)).toBeGreaterThan(3500);
    await client.expire('rg:notifications:read:alice', 10);
    await s.forUser('alice');
    expect(await client.ttl('rg:notifications:read:alice')).toBeGreaterThan(3500);
  });

  it("bounds a user's read set by what the lists still hold", async () => {
    const s = new RedisNotificationStore(client, 3, 3600);
    for (let i = 0; i < 20; i++) {
      await s.add(note(`b${i}`, i, null));
      expect(await s.markRead('alice', `b${i}`)).toBe('marked');
      expect(await client.sCard('rg:notifications:read:alice')).toBeLessThanOrEqual(6);
    }
    expect(unreadIds(await s.forUser('alice'))).toEqual([]);
  });

  it('answers UPSTREAM_UNAVAILABLE while Redis is away, and stores nothing', async () => {
    const lost = await redis.server.client();
    const s = new RedisNotificationStore(lost, 3, 3600);
    await lost.disconnect();
    await expect(s.add(note('a1', 1, 'alice'))).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    await expect(s.forUser('alice')).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    await expect(s.markRead('alice', 'a1')).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(await client.keys('rg:notifications:*')).toEqual([]);
  });
});

describe('on a Redis Cluster', () => {
  const redis = useRedisCluster({ emptyEachTest: true });

  contract('Redis Cluster', () => new RedisNotificationStore(redis.client, 3, 3600));

  it("keeps a user's keys in one slot and the broadcast list apart, with times to live", async () => {
    const s = new RedisNotificationStore(redis.client, 3, 3600);
    for (const user of ['alice', 'a}b', '{x}']) {
      await s.add(note(`${user}-1`, 1, user));
      expect(await s.markRead(user, `${user}-1`)).toBe('marked');
    }
    await s.add(note('b1', 2, null));
    expect(await s.markRead('alice', 'b1')).toBe('marked');
    const keys = (await redis.cluster.keys('rg:notifications:*')).sort();
    expect(keys).toEqual(expect.arrayContaining(['rg:notifications:broadcast', 'rg:notifications:read:{alice}', 'rg:notifications:user:{alice}']));
    expect(keys).toHaveLength(1 + 3 * 2);
    for (const key of keys) expect(await redis.client.ttl(key)).toBeGreaterThan(3500);
    expect(unreadIds(await s.forUser('a}b'))).toEqual(['b1']);
  });

  it("bounds a user's read set by what the lists still hold", async () => {
    const s = new RedisNotificationStore(redis.client, 3, 3600);
    for (let i = 0; i < 20; i++) {
      await s.add(note(`b${i}`, i, null));
      expect(await s.markRead('alice', `b${i}`)).toBe('marked');
      expect(await redis.client.sCard('rg:notifications:read:{alice}')).toBeLessThanOrEqual(6);
    }
    expect(unreadIds(await s.forUser('alice'))).toEqual([]);
  });

  it('answers UPSTREAM_UNAVAILABLE while the cluster is away, and stores nothing', async () => {
    const lost = await redis.cluster.client();
    const s = new RedisNotificationStore(lost, 3, 3600);
    await lost.disconnect();
    await expect(s.add(note('a1', 1, 'alice'))).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    await expect(s.forUser('alice')).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    await expect(s.markRead('alice', 'a1')).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(await redis.cluster.keys('rg:notifications:*')).toEqual([]);
  });
});
