import { MemoryCellStore, RedisCellStore, type CellStore, type CellWrite } from '../server/cluster/cells';
import { MemoryChatHistory, RedisChatHistory, type ChatHistory } from '../server/cluster/chat-history';
import { MemorySessionStore, RedisSessionStore, type SessionStore } from '../server/cluster/sessions';
import type { ChatMessage } from '../shared/messages/chat';
import { useEmptyRedisEachTest, useRedis, type TestRedisClient } from './support/lifecycle';
import { useRedisCluster } from './support/redis-cluster';


interface Stores {
  cells: CellStore;
  sessions: SessionStore;
  chat: ChatHistory;
}

const write = (baseVersion: number, value: CellWrite['value'] = 'v'): CellWrite => ({
  value,
  formula: null,
  baseVersion,
  user_id: 'u',
  username: 'U',
  updated_at: '2024-01-15T10:30:00.000Z',
});

const message = (i: number, at: number): ChatMessage => ({
  id: `m${i}`,
  room_id: 'r',
  content: `c${i}`,
  messageType: 'text',
  author: { userId: 'u', username: 'U' },
  timestamp: new Date(at).toISOString(),
});

/** One contract for both implementations of each store. */
function contract(name: string, make: () => Stores) {
  describe(`${name} stores`, () => {
    let s: Stores;
    beforeEach(() => {
      s = make();
    });

    it('cells: create at any version, then compare-and-set with max(stored, base) + 1', async () => {
      const created = await s.cells.update('sheet', 'A1', write(1642161000000, 'Hello'));
      expect(created).toEqual({ ok: true, cell: { value: 'Hello', formula: null, version: 1642161000001, user_id: 'u', username: 'U', updated_at: '2024-01-15T10:30:00.000Z' } });
      const stale = await s.cells.update('sheet', 'A1', write(5, 'late'));
      expect(stale).toEqual({ ok: false, current: expect.objectContaining({ value: 'Hello', version: 1642161000001 }) });
      const next = await s.cells.update('sheet', 'A1', write(1642161000001, 42));
      expect(next).toMatchObject({ ok: true, cell: { value: 42, version: 1642161000002 } });
      const fresh = await s.cells.update('sheet', 'B1', write(0, null));
      expect(fresh).toMatchObject({ ok: true, cell: { value: null, version: 1 } });
      expect(Object.keys(await s.cells.sheet('sheet')).sort()).toEqual(['A1', 'B1']);
      expect(await s.cells.sheet('nothing')).toEqual({});
    });

    it('cells: keep versions exact up to the largest safe integer', async () => {
      const base = Number.MAX_SAFE_INTEGER - 2;
      expect(await s.cells.update('big', 'A1', write(base))).toMatchObject({ ok: true, cell: { version: base + 1 } });
    });

    it('cells: concurrent writes on one base version let exactly one through', async () => {
      await s.cells.update('race', 'A1', write(0));
      const results = await Promise.all(Array.from({ length: 20 }, () => s.cells.update('race', 'A1', write(1))));
      expect(results.filter((r) => r.ok)).toHaveLength(1);
    });

    it('cells: rooms remember their active sheets', async () => {
      await s.cells.addActiveSheet('room', 'sheet_2');
      await s.cells.addActiveSheet('room', 'sheet_1');
      await s.cells.addActiveSheet('room', 'sheet_1');
      expect(await s.cells.activeSheets('room')).toEqual(['sheet_1', 'sheet_2']);
      expect(await s.cells.activeSheets('other')).toEqual([]);
    });

    it('sessions: sequence edits made against the current version only', async () => {
      expect(await s.sessions.version('doc')).toBe(0);
      expect(await s.sessions.sequence('doc', 0)).toEqual({ ok: true, version: 1 });
      expect(await s.sessions.sequence('doc', 0)).toEqual({ ok: false, version: 1 });
      expect(await s.sessions.sequence('doc', 1)).toEqual({ ok: true, version: 2 });
      const racing = await Promise.all(Array.from({ length: 10 }, () => s.sessions.sequence('doc', 2)));
      expect(racing.filter((r) => r.ok)).toEqual([{ ok: true, version: 3 }]);
      expect(await s.sessions.version('doc')).toBe(3);
    });

    it('chat: caps the history and pages it newest last', async () => {
      const t0 = Date.parse('2024-01-01T00:00:00Z');
      for (let i = 0; i < 7; i++) await s.chat.append('r', message(i, t0 + i * 1000));
      expect((await s.chat.before('r', 50)).map((m) => m.id)).toEqual(['m2', 'm3', 'm4', 'm5', 'm6']);
      expect((await s.chat.before('r', 2)).map((m) => m.id)).toEqual(['m5', 'm6']);
      expect((await s.chat.before('r', 2, t0 + 5000)).map((m) => m.id)).toEqual(['m3', 'm4']);
      expect(await s.chat.before('empty', 10)).toEqual([]);
    });
  });
}

contract('in-memory', () => ({ cells: new MemoryCellStore(), sessions: new MemorySessionStore(), chat: new MemoryChatHistory(5) }));

describe('with Redis', () => {
  const redis = useRedis();
  let client: TestRedisClient;
  useEmptyRedisEachTest(redis, (c) => (client = c));

  contract('Redis', () => ({
    cells: new RedisCellStore(client, 3600),
    sessions: new RedisSessionStore(client, 3600),
    chat: new RedisChatHistory(client, 5, 3600),
  }));

  it('gives every key it writes a time to live', async () => {
    const cells = new RedisCellStore(client, 3600);
    await cells.update('s', 'A1', write(0));
    await cells.addActiveSheet('room', 's');
    await new RedisSessionStore(client, 3600).sequence('doc', 0);
    await new RedisChatHistory(client, 5, 3600).append('r', message(0, Date.now()));
    const keys = await client.keys('rg:*');
    expect(keys.length).toBe(5);
    for (const key of keys) expect(await client.ttl(key)).toBeGreaterThan(3500);
  });
});

describe('on a Redis Cluster', () => {
  const redis = useRedisCluster({ emptyEachTest: true });

  contract('Redis Cluster', () => ({
    cells: new RedisCellStore(redis.client, 3600),
    sessions: new RedisSessionStore(redis.client, 3600),
    chat: new RedisChatHistory(redis.client, 5, 3600),
  }));

  it("keeps a sheet's keys in one slot, whatever the ids, and gives every key a time to live", async () => {
    const cells = new RedisCellStore(redis.client, 3600);
    const sessions = new RedisSessionStore(redis.client, 3600);
    const chat = new RedisChatHistory(redis.client, 5, 3600);
    for (const id of ['s', 'a}b', '{x}', '', '~t']) {
      expect(await cells.update(id, 'A1', write(0))).toMatchObject({ ok: true, cell: { version: 1 } });
      expect(await cells.update(id, 'A1', write(0))).toMatchObject({ ok: false });
      await cells.addActiveSheet(id, 'sheet');
      expect(await cells.activeSheets(id)).toEqual(['sheet']);
      expect(Object.keys(await cells.sheet(id))).toEqual(['A1']);
      expect(await sessions.sequence(id, 0)).toEqual({ ok: true, version: 1 });
      await chat.append(id, message(0, Date.now()));
      expect(await chat.before(id, 10)).toHaveLength(1);
    }
    expect((await redis.cluster.keys('rg:sheet:{s}:*')).sort()).toEqual(['rg:sheet:{s}:cells', 'rg:sheet:{s}:versions']);
    const keys = await redis.cluster.keys('rg:*');
    expect(keys.length).toBe(5 * 5);
    for (const key of keys) expect(await redis.client.ttl(key)).toBeGreaterThan(3500);
  });
});
