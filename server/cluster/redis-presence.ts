import type { PresenceUser } from '../../shared/messages/presence';
import {
  applyPatch,
  mergeEntries,
  newEntry,
  type PresenceEntry,
  type PresenceMember,
  type PresencePatch,
  type PresenceStore,
  type RoomSummary,
} from './presence';
import type { RedisClient } from './redis';
import { upstream } from './upstream';

const K = {
  room: (room: string) => `rg:presence:${room}`,
  rooms: 'rg:presence-rooms',
  pods: 'rg:pods',
  podRooms: (pod: string) => `rg:pod:${pod}:rooms`,
};

const LEAVE = `
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return 1`;

/** Removes every entry of a pod whose heartbeat is older than ARGV[3]; returns the rooms touched. */
const REAP = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not score) or tonumber(score) >= tonumber(ARGV[3]) then return {} end
local rooms = redis.call('SMEMBERS', KEYS[2])
local prefix = ARGV[1] .. '/'
for _, room in ipairs(rooms) do
  local key = ARGV[2] .. room
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if string.sub(field, 1, #prefix) == prefix then redis.call('HDEL', key, field) end
  end
  if redis.call('HLEN', key) == 0 then redis.call('SREM', KEYS[3], room) end
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return rooms`;

/**
 * Presence in Redis, shared by every pod. Each pod heartbeats into a sorted set; a pod that stops
 * (SIGKILL, network loss) is reaped by the survivors once its heartbeat is older than the TTL, so
 * its users vanish from room_state within TTL + one heartbeat interval. A pod writes only its own
 * connections' entries, which it also keeps locally, so updates need no read from Redis.
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly own = new Map<string, PresenceEntry>();
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

  async join(room: string, connId: string, member: PresenceMember): Promise<void> {
    const field = this.field(connId);
    const ownKey = `${room}\n${field}`;
    const entry = this.own.get(ownKey) ?? newEntry(member, this.now());
    if (!this.own.has(ownKey)) this.ownRooms.set(room, (this.ownRooms.get(room) ?? 0) + 1);
    this.own.set(ownKey, entry);
    await upstream(() =>
      this.redis
        .multi()
        .hSet(K.room(room), field, JSON.stringify(entry))
        .sAdd(K.rooms, room)
        .sAdd(K.podRooms(this.podId), room)
        .exec(),
    );
  }

  async leave(room: string, connId: string): Promise<void> {
    const field = this.field(connId);
    const ownKey = `${room}\n${field}`;
    if (!this.own.delete(ownKey)) return;
    const left = (this.ownRooms.get(room) ?? 1) - 1;
    if (left > 0) this.ownRooms.set(room, left);
    else this.ownRooms.delete(room);
    await upstream(async () => {
      await this.redis.eval(LEAVE, { keys: [K.room(room), K.rooms], arguments: [field, room] });
      if (left <= 0) await this.redis.sRem(K.podRooms(this.podId), room);
    });
  }

  async update(room: string, connId: string, patch: PresencePatch): Promise<void> {
    const field = this.field(connId);
    const ownKey = `${room}\n${field}`;
    const entry = this.own.get(ownKey);
    if (!entry) return;
    const next = applyPatch(entry, patch, this.now());
    this.own.set(ownKey, next);
    await upstream(() => this.redis.hSet(K.room(room), field, JSON.stringify(next)));
  }

  /**
   * Writes this pod's entries and heartbeat again: after Redis came back empty (a restart without
   * persistence, a failover), presence is whole again without any client reconnecting.
   */
  async resync(): Promise<void> {
    const multi = this.redis.multi().zAdd(K.pods, { score: this.now(), value: this.podId });
    for (const [ownKey, entry] of this.own) {
      const [room, field] = ownKey.split('\n');
      multi.hSet(K.room(room), field, JSON.stringify(entry)).sAdd(K.rooms, room).sAdd(K.podRooms(this.podId), room);
    }
    await upstream(() => multi.exec());
  }

  async list(room: string): Promise<PresenceUser[]> {
    const all = await upstream(() => this.redis.hVals(K.room(room)));
    return mergeEntries(room, all.map((raw) => JSON.parse(raw) as PresenceEntry));
  }

  async rooms(): Promise<RoomSummary[]> {
    return upstream(async () => {
      const rooms = await this.redis.sMembers(K.rooms);
      const values = await Promise.all(rooms.map((room) => this.redis.hVals(K.room(room))));
      return rooms
        .map((room, i) => ({
          room,
          userCount: new Set(values[i].map((raw) => (JSON.parse(raw) as PresenceEntry).user_id)).size,
        }))
        .filter((r) => r.userCount > 0);
    });
  }

  async heartbeat(): Promise<void> {
    await upstream(() => this.redis.zAdd(K.pods, { score: this.now(), value: this.podId }));
  }

  async reap(): Promise<string[]> {
    const deadline = this.now() - this.ttlMs;
    const dead = await upstream(() => this.redis.zRangeByScore(K.pods, '-inf', `(${deadline}`));
    const changed = new Set<string>();
    for (const pod of dead) {
      if (pod === this.podId) continue;
      for (const room of await this.reapPod(pod, deadline)) changed.add(room);
    }
    return [...changed];
  }

  private async reapPod(pod: string, deadline: number): Promise<string[]> {
    const rooms = await upstream(() =>
      this.redis.eval(REAP, {
        keys: [K.pods, K.podRooms(pod), K.rooms],
        arguments: [pod, K.room(''), String(deadline)],
      }),
    );
    return rooms as string[];
  }

  async close(): Promise<void> {
    this.own.clear();
    this.ownRooms.clear();
    await this.reapPod(this.podId, Number.MAX_SAFE_INTEGER);
  }
}
