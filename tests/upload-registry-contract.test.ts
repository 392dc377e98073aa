import { MemoryUploadRegistry, RedisUploadRegistry, type UploadRegistry } from '../server/cluster/uploads';
import { useEmptyRedisEachTest, useRedis, type TestRedisClient } from './support/lifecycle';
import { useRedisCluster } from './support/redis-cluster';

const HOUR = 3_600_000;

/** One contract for both implementations: places per user, file ids in flight, lapsing at expiry. */
function contract(name: string, make: () => UploadRegistry) {
  describe(`${name} upload registry`, () => {
    let r: UploadRegistry;
    beforeEach(() => {
      r = make();
    });

    it('gives each user at most `max` places, and a file in flight its one upload', async () => {
      const later = Date.now() + HOUR;
      expect(await r.begin('alice', 'f1', 'u1', later, 2)).toEqual({ status: 'created' });
      expect(await r.begin('alice', 'f1', 'u9', later, 2)).toEqual({ status: 'existing', uploadId: 'u1' });
      expect(await r.begin('alice', 'f2', 'u2', later, 2)).toEqual({ status: 'created' });
      expect(await r.begin('alice', 'f3', 'u3', later, 2)).toEqual({ status: 'limit', inFlight: 2 });
      expect(await r.begin('bob', 'f1', 'u4', later, 2)).toEqual({ status: 'created' });
      expect(await r.find('alice', 'f1')).toBe('u1');
      expect(await r.find('alice', 'f3')).toBeUndefined();
      expect(await r.find('carol', 'f1')).toBeUndefined();
    });

    it('frees a place when its upload ends, and only that upload frees its file id', async () => {
      const later = Date.now() + HOUR;
      await r.begin('alice', 'f1', 'u1', later, 1);
      await r.end('alice', 'f1', 'u-other');
      expect(await r.find('alice', 'f1')).toBe('u1');
      await r.end('alice', 'f1', 'u1');
      expect(await r.find('alice', 'f1')).toBeUndefined();
      expect(await r.begin('alice', 'f1', 'u2', later, 1)).toEqual({ status: 'created' });
      await r.end('nobody', 'f1', 'u2');
      expect(await r.find('alice', 'f1')).toBe('u2');
    });

    it('lets places lapse at their expiry, so an abandoned upload frees itself', async () => {
      // A second to live: the place must still be held at the next call, however slow the machine.
      const expiresAt = Date.now() + 1000;
      expect(await r.begin('alice', 'f1', 'u1', expiresAt, 1)).toEqual({ status: 'created' });
      expect(await r.begin('alice', 'f2', 'u2', Date.now() + HOUR, 1)).toEqual({ status: 'limit', inFlight: 1 });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 50));
      expect(await r.find('alice', 'f1')).toBeUndefined();
      expect(await r.begin('alice', 'f2', 'u2', Date.now() + HOUR, 1)).toEqual({ status: 'created' });
      // The lapsed file id starts afresh rather than answering the dead upload.
      expect(await r.begin('alice', 'f1', 'u3', Date.now() + HOUR, 2)).toEqual({ status: 'created' });
    });
  });
}

contract('in-memory', () => new MemoryUploadRegistry());

describe('on Redis', () => {
  const redis = useRedis();
  let client: TestRedisClient;
  useEmptyRedisEachTest(redis, (c) => (client = c));

  contract('Redis', () => new RedisUploadRegistry(client, HOUR));

  it("keeps a user's keys in one cluster slot and lets them expire", async () => {
    const r = new RedisUploadRegistry(client, HOUR);
    await r.begin('alice', 'f1', 'u1', Date.now() + HOUR, 2);
    const keys = (await client.keys('rg:uploads:*')).sort();
    expect(keys).toEqual(['rg:uploads:{alice}:files', 'rg:uploads:{alice}:inflight']);
    for (const key of keys) expect(await client.pTTL(key)).toBeGreaterThan(HOUR - 60_000);
  });

  it('prunes file ids of lapsed uploads once they outgrow the places', async () => {
    const r = new RedisUploadRegistry(client, HOUR);
    for (let i = 0; i < 12; i++) await r.begin('alice', `old-${i}`, `u${i}`, Date.now() + 1, 20);
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (let i = 0; i < 5; i++) await r.begin('alice', `new-${i}`, `n${i}`, Date.now() + HOUR, 1 + i);
    expect(await client.hLen('rg:uploads:{alice}:files')).toBeLessThanOrEqual(5);
  });

  it('answers UPSTREAM_UNAVAILABLE while Redis is away', async () => {
    const lost = await redis.server.client();
    const r = new RedisUploadRegistry(lost, HOUR);
    await lost.disconnect();
    await expect(r.begin('alice', 'f', 'u', Date.now() + HOUR, 1)).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    await expect(r.find('alice', 'f')).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
  });
});

describe('on a Redis Cluster', () => {
  const redis = useRedisCluster({ emptyEachTest: true });

  contract('Redis Cluster', () => new RedisUploadRegistry(redis.client, HOUR));

  it("keeps a user's keys in one slot, whatever the user id, and lets them expire", async () => {
    const r = new RedisUploadRegistry(redis.client, HOUR);
    for (const user of ['alice', 'a}b', '{x}', '']) {
      expect(await r.begin(user, 'f1', 'u1', Date.now() + HOUR, 2)).toEqual({ status: 'created' });
      expect(await r.find(user, 'f1')).toBe('u1');
      await r.end(user, 'f1', 'u1');
      expect(await r.find(user, 'f1')).toBeUndefined();
    }
    await r.begin('alice', 'f1', 'u1', Date.now() + HOUR, 2);
    const keys = (await redis.cluster.keys('rg:uploads:{alice}:*')).sort();
    expect(keys).toEqual(['rg:uploads:{alice}:files', 'rg:uploads:{alice}:inflight']);
    for (const key of keys) expect(await redis.client.pTTL(key)).toBeGreaterThan(HOUR - 60_000);
  });
});
