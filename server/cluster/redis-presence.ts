import type { PresenceUser } from '../../shared/messages/presence';
import {
  applyPatch,
  mergeEntries,
  newEntry,
  type PresenceEntry,
  type PresenceMember,
  type PresencePatch,
  type PresenceStore,
  type ReapedRoom,
  type RoomSummary,
} from './presence';
import type { RedisClient } from './redis';
import { upstream } from './upstream';

/**
 * Keys: per room a hash of connection entries (`<pod>/<socket>` → JSON) and a hash of connection
 * counts per user; the set of non-empty rooms; per pod the set of rooms it has entries in; and the
 * sorted set of pods by last heartbeat.
 */
const K = {
  room: (room: string) => `rg:presence:${room}`,
  users: (room: string) => `rg:presence-users:${room}`,
  rooms: 'rg:presence-rooms',
  pods: 'rg:pods',
  podRooms: (pod: string) => `rg:pod:${pod}:rooms`,
};

/** Adds one entry if new; returns the user's connection count in the room, or 0 if it existed. */
const JOIN = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[3])
return redis.call('HINCRBY', KEYS[2], ARGV[4], 1)`;

/** Removes one entry; returns the user's remaining count, or -1 when the entry was not there. */
const LEAVE = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
local n = redis.call('HINCRBY', KEYS[2], ARGV[3], -1)
if n <= 0 then redis.call('HDEL', KEYS[2], ARGV[3]) end
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[2])
  redis.call('DEL', KEYS[2])
end
return n`;

/**
 * Removes every entry of a pod whose heartbeat is older than ARGV[3]; returns per room touched
 * {room, {user id, username, ...}} of the users left with no connection there.
 */
const REAP = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not score) or tonumber(score) >= tonumber(ARGV[3]) then return {} end
local out = {}
local prefix = ARGV[1] .. '/'
for _, room in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = ARGV[2] .. room
  local users = ARGV[4] .. room
  local gone = {}
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local field = fields[i]
    if string.sub(field, 1, #prefix) == prefix then
      local entry = cjson.decode(fields[i + 1])
      redis.call('HDEL', key, field)
      if redis.call('HINCRBY', users, entry.user_id, -1) <= 0 then
        redis.call('HDEL', users, entry.user_id)
        table.insert(gone, entry.user_id)
        table.insert(gone, entry.username)
      end
    end
  end
  if redis.call('HLEN', key) == 0 then
    redis.call('SREM', KEYS[3], room)
    redis.call('DEL', users)
  end
  table.insert(out, { room, gone })
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return out`;

interface OwnEntry {
  room: string;
  field: string;
  entry: PresenceEntry;
}

/**
 * Presence in Redis, shared by every pod. Each pod heartbeats into a sorted set; a pod that stops
 * (SIGKILL, network loss) is reaped by the survivors once its heartbeat is older than the TTL, so
 * its users vanish from room_state within TTL + one heartbeat interval. A pod writes only its own
 * connections' entries, which it also keeps locally, so updates need no read from Redis and the
 * entries can be written again after Redis lost them.
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly own = new Map<string, OwnEntry>();
  private readonly ownRooms = new Map<string, number>();

  constructor(
    private readonly redis: RedisClient,
    private readonly podId: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private field(connId: string): string {
    return `${this.podId}/${connId}`;
  }

  private joinScript(own: OwnEntry): Promise<unknown> {
    return this.redis.eval(JOIN, {
      keys: [K.room(own.room), K.users(own.room), K.rooms, K.podRooms(this.podId)],
      arguments: [own.field, JSON.stringify(own.entry), own.room, own.entry.user_id],
    });
  }

  async join(room: string, connId: string, member: PresenceMember): Promise<boolean> {
    const field = this.field(connId);
    const key = `${room}\n${field}`;
    if (this.own.has(key)) return false;
    const own = { room, field, entry: newEntry(member, this.now()) };
    this.own.set(key, own);
    this.ownRooms.set(room, (this.ownRooms.get(room) ?? 0) + 1);
    return (await upstream(() => this.joinScript(own))) === 1;
  }

  async leave(room: string, connId: string): Promise<boolean> {
    const field = this.field(connId);
    const own = this.own.get(`${room}\n${field}`);
    if (!own) return false;
    this.own.delete(`${room}\n${field}`);
    const left = (this.ownRooms.get(room) ?? 1) - 1;
    if (left > 0) this.ownRooms.set(room, left);
    else this.ownRooms.delete(room);
    return upstream(async () => {
      const remaining = await this.redis.eval(LEAVE, {
        keys: [K.room(room), K.users(room), K.rooms],
        arguments: [field, room, own.entry.user_id],
      });
      if (left <= 0) await this.redis.sRem(K.podRooms(this.podId), room);
      return remaining === 0;
    });
  }

  async update(room: string, connId: string, patch: PresencePatch): Promise<void> {
    const own = this.own.get(`${room}\n${this.field(connId)}`);
    if (!own) return;
    own.entry = applyPatch(own.entry, patch, this.now());
    await upstream(() => this.redis.hSet(K.room(room), own.field, JSON.stringify(own.entry)));
  }

  /**
   * Writes this pod's entries and heartbeat again (idempotent): after Redis came back empty (a
   * restart without persistence, a failover), presence is whole again without any client
   * reconnecting.
   */
  async resync(): Promise<void> {
    await upstream(async () => {
      await this.redis.zAdd(K.pods, { score: this.now(), value: this.podId });
      await Promise.all([...this.own.values()].map((own) => this.joinScript(own)));
    });
  }

  async list(room: string, limit = Infinity): Promise<PresenceUser[]> {
    return upstream(async () => {
      if (limit === Infinity || (await this.redis.hLen(K.users(room))) <= limit) {
        const all = await this.redis.hVals(K.room(room));
        return mergeEntries(room, all.map((raw) => JSON.parse(raw) as PresenceEntry));
      }
      // A large room: one HSCAN page of about `limit` entries, never the whole hash.
      const page = await this.redis.hScan(K.room(room), 0, { COUNT: limit });
      const entries = page.tuples.map((t) => JSON.parse(t.value) as PresenceEntry);
      return mergeEntries(room, entries).slice(0, limit);
    });
  }

  async count(room: string): Promise<number> {
    return upstream(() => this.redis.hLen(K.users(room)));
  }

  async rooms(): Promise<RoomSummary[]> {
    return upstream(async () => {
      const rooms = await this.redis.sMembers(K.rooms);
      const counts = await Promise.all(rooms.map((room) => this.redis.hLen(K.users(room))));
      return rooms.map((room, i) => ({ room, userCount: counts[i] })).filter((r) => r.userCount > 0);
    });
  }

  async heartbeat(): Promise<void> {
    await upstream(() => this.redis.zAdd(K.pods, { score: this.now(), value: this.podId }));
  }

  async reap(): Promise<ReapedRoom[]> {
    const deadline = this.now() - this.ttlMs;
    const dead = await upstream(() => this.redis.zRangeByScore(K.pods, '-inf', `(${deadline}`));
    const reaped: ReapedRoom[] = [];
    for (const pod of dead) if (pod !== this.podId) reaped.push(...(await this.reapPod(pod, deadline)));
    return reaped;
  }

  private async reapPod(pod: string, deadline: number): Promise<ReapedRoom[]> {
    const rows = (await upstream(() =>
      this.redis.eval(REAP, {
        keys: [K.pods, K.podRooms(pod), K.rooms],
        arguments: [pod, K.room(''), String(deadline), K.users('')],
      }),
    )) as Array<[string, string[]]>;
    return rows.map(([room, flat]) => {
      const goneUsers = [];
      for (let i = 0; i < flat.length; i += 2) goneUsers.push({ userId: flat[i], username: flat[i + 1] });
      return { room, goneUsers };
    });
  }

  async close(): Promise<void> {
    this.own.clear();
    this.ownRooms.clear();
    await this.reapPod(this.podId, Number.MAX_SAFE_INTEGER);
  }
}
