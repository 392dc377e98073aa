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
import type { KeySpace } from './keys';
import { keySpaceOf, type DataClient } from './redis';
import { upstream } from './upstream';

/**
 * Keys. Per room, sharing the room's hash tag (one slot on a Redis Cluster): a hash of connection
 * entries (`<pod>/<socket>` → JSON) and a hash of connection counts per user. Per pod: the set of
 * rooms it has entries in. And the sorted set of pods by last heartbeat. Every script touches the
 * two keys of one room and nothing else; the pod's set of rooms is written apart, before the
 * entries it lists (a pod that dies in between leaves a room to look at, never an entry no reaper
 * would find), and the rooms of every pod together are the rooms in use.
 */
const keysOf = (keys: KeySpace) => ({
  room: (room: string) => `rg:presence:${keys.tag(room)}`,
  users: (room: string) => `rg:presence-users:${keys.tag(room)}`,
  pods: 'rg:pods',
  podRooms: (pod: string) => `rg:pod:${pod}:rooms`,
});

/** Adds one entry if new; returns the user's connection count in the room, or 0 if it existed. */
const JOIN = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[2], ARGV[3], 1)`;

/** Removes one entry; returns the user's remaining count, or -1 when the entry was not there. */
const LEAVE = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
local n = redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
if n <= 0 then redis.call('HDEL', KEYS[2], ARGV[2]) end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
return n`;

/**
 * Removes from one room every entry of the pod whose field prefix is ARGV[1]; returns {entries
 * removed, {user id, username, ...} of the users left with no connection there}. Two pods reaping
 * the same room at once: one removes the entries, the other finds none (each user leaves once).
 */
const REAP_ROOM = `
local prefix = ARGV[1]
local removed = 0
local gone = {}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local field = fields[i]
  if string.sub(field, 1, #prefix) == prefix then
    local entry = cjson.decode(fields[i + 1])
    redis.call('HDEL', KEYS[1], field)
    removed = removed + 1
    if redis.call('HINCRBY', KEYS[2], entry.user_id, -1) <= 0 then
      redis.call('HDEL', KEYS[2], entry.user_id)
      table.insert(gone, entry.user_id)
      table.insert(gone, entry.username)
    end
  end
end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
return { removed, gone }`;

/** Drops pod ARGV[1] from the heartbeats unless it beat at or after ARGV[2]; 1 when it is gone. */
const FORGET_POD = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1`;

interface OwnEntry {
  room: string;
  field: string;
  entry: PresenceEntry;
}

/**
 * Presence in Redis, shared by every pod. Each pod heartbeats into a sorted set; a pod that stops
 * (SIGKILL, network loss) is reaped by the survivors once its heartbeat is older than the TTL, room
 * by room, so its users vanish from room_state within TTL + one heartbeat interval. A pod writes
 * only its own connections' entries, which it also keeps locally, so updates need no read from
 * Redis and the entries can be written again after Redis lost them. The same on one Redis and on
 * a Redis Cluster (keys.ts: only the key names differ).
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly own = new Map<string, OwnEntry>();
  private readonly ownRooms = new Map<string, number>();
  private readonly k: ReturnType<typeof keysOf>;
  private readonly cluster: boolean;

  constructor(
    private readonly redis: DataClient,
    private readonly podId: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    keys: KeySpace = keySpaceOf(redis),
  ) {
    this.k = keysOf(keys);
    this.cluster = keys.cluster;
  }

  private field(connId: string): string {
    return `${this.podId}/${connId}`;
  }

  /**
   * Writes entries: first their rooms into this pod's set (on one Redis both go out together on
   * one connection, in order; on a cluster they live on different masters, so the set is written
   * before), then each entry. Resolves with each entry's JOIN answer.
   */
  private async write(owns: readonly OwnEntry[]): Promise<unknown[]> {
    if (owns.length === 0) return [];
    const index = this.redis.sAdd(this.k.podRooms(this.podId), [...new Set(owns.map((o) => o.room))]);
    if (this.cluster) await index;
    const [, ...results] = await Promise.all([
      index,
      ...owns.map((own) =>
        this.redis.eval(JOIN, {
          keys: [this.k.room(own.room), this.k.users(own.room)],
          arguments: [own.field, JSON.stringify(own.entry), own.entry.user_id],
        }),
      ),
    ]);
    return results;
  }

  async join(room: string, connId: string, member: PresenceMember): Promise<boolean> {
    const field = this.field(connId);
    const key = `${room}\n${field}`;
    if (this.own.has(key)) return false;
    const own = { room, field, entry: newEntry(member, this.now()) };
    this.own.set(key, own);
    this.ownRooms.set(room, (this.ownRooms.get(room) ?? 0) + 1);
    const [count] = await upstream(() => this.write([own]));
    return count === 1;
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
        keys: [this.k.room(room), this.k.users(room)],
        arguments: [field, own.entry.user_id],
      });
      if (left <= 0) await this.redis.sRem(this.k.podRooms(this.podId), room);
      return remaining === 0;
    });
  }

  async update(room: string, connId: string, patch: PresencePatch): Promise<void> {
    const own = this.own.get(`${room}\n${this.field(connId)}`);
    if (!own) return;
    own.entry = applyPatch(own.entry, patch, this.now());
    await upstream(() => this.redis.hSet(this.k.room(room), own.field, JSON.stringify(own.entry)));
  }

  /**
   * Writes this pod's entries and heartbeat again (idempotent): after Redis came back empty (a
   * restart without persistence, a failover, one master of a cluster restarted), presence is whole
   * again without any client reconnecting.
   */
  async resync(): Promise<void> {
    await upstream(async () => {
      await this.redis.zAdd(this.k.pods, { score: this.now(), value: this.podId });
      await this.write([...this.own.values()]);
    });
  }

  async list(room: string, limit = Infinity): Promise<PresenceUser[]> {
    return upstream(async () => {
      if (limit === Infinity || (await this.redis.hLen(this.k.users(room))) <= limit) {
        const all = await this.redis.hVals(this.k.room(room));
        return mergeEntries(room, all.map((raw) => JSON.parse(raw) as PresenceEntry));
      }
      // A large room: one HSCAN page of about `limit` entries, never the whole hash.
      const page = await this.redis.hScan(this.k.room(room), 0, { COUNT: limit });
      const entries = page.tuples.map((t) => JSON.parse(t.value) as PresenceEntry);
      return mergeEntries(room, entries).slice(0, limit);
    });
  }

  async count(room: string): Promise<number> {
    return upstream(() => this.redis.hLen(this.k.users(room)));
  }

  /** The rooms of every pod's set (pods that heartbeat, or died and are not reaped yet), with their user counts. */
  async rooms(): Promise<RoomSummary[]> {
    return upstream(async () => {
      const pods = await this.redis.zRange(this.k.pods, 0, -1);
      const sets = await Promise.all(pods.map((pod) => this.redis.sMembers(this.k.podRooms(pod))));
      const rooms = [...new Set(sets.flat())];
      const counts = await Promise.all(rooms.map((room) => this.redis.hLen(this.k.users(room))));
      return rooms.map((room, i) => ({ room, userCount: counts[i] })).filter((r) => r.userCount > 0);
    });
  }

  async heartbeat(): Promise<void> {
    await upstream(() => this.redis.zAdd(this.k.pods, { score: this.now(), value: this.podId }));
  }

  async reap(): Promise<ReapedRoom[]> {
    const deadline = this.now() - this.ttlMs;
    const dead = await upstream(() => this.redis.zRangeByScore(this.k.pods, '-inf', `(${deadline}`));
    const reaped: ReapedRoom[] = [];
    for (const pod of dead) if (pod !== this.podId) reaped.push(...(await this.reapPod(pod, deadline)));
    return reaped;
  }

  /**
   * Removes a pod's entries room by room, then the pod itself unless it beat again meanwhile.
   * Returns the rooms where this call removed entries.
   */
  private async reapPod(pod: string, deadline: number): Promise<ReapedRoom[]> {
    return upstream(async () => {
      const rooms = await this.redis.sMembers(this.k.podRooms(pod));
      const rows = await Promise.all(
        rooms.map(async (room) => {
          const [removed, flat] = (await this.redis.eval(REAP_ROOM, {
            keys: [this.k.room(room), this.k.users(room)],
            arguments: [`${pod}/`],
          })) as [number, string[]];
          const goneUsers = [];
          for (let i = 0; i < flat.length; i += 2) goneUsers.push({ userId: flat[i], username: flat[i + 1] });
          return removed > 0 ? [{ room, goneUsers }] : [];
        }),
      );
      const forgotten = await this.redis.eval(FORGET_POD, { keys: [this.k.pods], arguments: [pod, String(deadline)] });
      if (forgotten === 1) await this.redis.del(this.k.podRooms(pod));
      return rows.flat();
    });
  }

  async close(): Promise<void> {
    this.own.clear();
    this.ownRooms.clear();
    await this.reapPod(this.podId, Number.MAX_SAFE_INTEGER);
  }
}
