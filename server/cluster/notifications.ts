import type { NotificationPriority } from '../../shared/messages/notifications';
import type { KeySpace } from './keys';
import { keySpaceOf, type DataClient } from './redis';
import { upstream } from './upstream';

/** A notification as stored: for one user, or (`user_id` null) for every user. */
export interface StoredNotification {
  readonly id: string;
  readonly title: string;
  readonly message: string;
  readonly category: string;
  readonly priority: NotificationPriority;
  readonly module_name: string | null;
  readonly created_at: string;
  readonly user_id: string | null;
  readonly data?: Record<string, unknown>;
}

/** A notification as one user sees it: with that user's read state. */
export type UserNotification = StoredNotification & { readonly read: boolean };

/** `unknown`: the user has no such notification (never created, someone else's, or trimmed away). */
export type MarkReadResult = 'marked' | 'already_read' | 'unknown';

/**
 * Notifications per user, and the broadcast ones every user sees. Why a broadcast notification is
 * stored once, in a list of its own, with a read set per user: a user who was offline when it was
 * created still finds it unread on subscribe, and creating one costs one write however many users
 * there are. Each list keeps the newest `cap`; a user's read set holds ids of either list and is
 * pruned to the ids still kept, so it stays bounded by twice the cap.
 */
export interface NotificationStore {
  /** Keeps a new notification: in its user's list, or, without user_id, in the broadcast list. */
  add(notification: StoredNotification): Promise<void>;
  /** Everything the user sees (own and broadcast), newest first, each with the user's read state. */
  forUser(userId: string): Promise<UserNotification[]>;
  /** Marks one of the user's notifications (own or broadcast) read, for that user only. */
  markRead(userId: string, notificationId: string): Promise<MarkReadResult>;
}

/** Own and broadcast notifications merged newest first (each list is newest first already). */
function merge(own: readonly StoredNotification[], broadcast: readonly StoredNotification[], read: ReadonlySet<string>): UserNotification[] {
  const all = [...own, ...broadcast].map((n) => ({ ...n, read: read.has(n.id) }));
  // A stable sort: among equal timestamps the order of the lists stays.
  return all.sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
}

/** One pod without Redis: the same rules, kept for the life of the process. */
export class MemoryNotificationStore implements NotificationStore {
  private readonly own = new Map<string, StoredNotification[]>();
  private readonly broadcast: StoredNotification[] = [];
  private readonly read = new Map<string, Set<string>>();

  constructor(private readonly cap: number) {}

  async add(notification: StoredNotification): Promise<void> {
    let list = this.broadcast;
    if (notification.user_id !== null) {
      list = this.own.get(notification.user_id) ?? [];
      this.own.set(notification.user_id, list);
    }
    list.unshift(notification);
    if (list.length > this.cap) list.length = this.cap;
  }

  async forUser(userId: string): Promise<UserNotification[]> {
    return merge(this.own.get(userId) ?? [], this.broadcast, this.read.get(userId) ?? new Set());
  }

  async markRead(userId: string, notificationId: string): Promise<MarkReadResult> {
    const kept = [...(this.own.get(userId) ?? []), ...this.broadcast];
    if (!kept.some((n) => n.id === notificationId)) return 'unknown';
    const read = this.read.get(userId) ?? new Set<string>();
    this.read.set(userId, read);
    if (read.has(notificationId)) return 'already_read';
    read.add(notificationId);
    if (read.size > 2 * this.cap) {
      const live = new Set(kept.map((n) => n.id));
      for (const id of read) if (!live.has(id)) read.delete(id);
    }
    return 'marked';
  }
}

/**
 * A user's list and read set share the user's hash tag (one slot on a cluster); the broadcast list
 * is one key of its own, so no script or MULTI touches it together with a user's keys.
 */
const userKeys = (keys: KeySpace) => ({
  own: (userId: string) => `rg:notifications:user:${keys.tag(userId)}`,
  read: (userId: string) => `rg:notifications:read:${keys.tag(userId)}`,
});
const BROADCAST_KEY = 'rg:notifications:broadcast';

/** The id first, so a script can find a notification by the prefix of its JSON without decoding it. */
function encode(n: StoredNotification): string {
  const { id, ...rest } = n;
  return JSON.stringify({ id, ...rest });
}
const idPrefix = (id: string): string => `{"id":${JSON.stringify(id)},`;

/** KEYS: a list. ARGV: id prefix. Returns 1 when the list holds a notification with that id. */
const HOLDS = `
local prefix = ARGV[1]
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.sub(item, 1, #prefix) == prefix then return 1 end
end
return 0
`;

/** KEYS: a list. Returns the ids of the notifications it holds. */
const IDS = `
local ids = {}
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do table.insert(ids, cjson.decode(item).id) end
return ids
`;

/**
 * Marks read only an id that one of the user's two lists holds (no unbounded read set of made-up
 * ids). KEYS: own list, read set. ARGV: id prefix, id, ttl seconds, 1 when the broadcast list holds
 * the id. Returns {1 marked | 0 already read | -1 unknown, size of the read set}.
 */
const MARK_READ = `
local held = ARGV[4] == '1'
if not held then
  local prefix = ARGV[1]
  for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
    if string.sub(item, 1, #prefix) == prefix then held = true break end
  end
end
if not held then return {-1, 0} end
local added = redis.call('SADD', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {added, redis.call('SCARD', KEYS[2])}
`;

/**
 * Prunes the read set to the ids still kept. KEYS: own list, read set. ARGV: the ids the broadcast
 * list holds.
 */
const PRUNE = `
local live = {}
for _, id in ipairs(ARGV) do live[id] = true end
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do live[cjson.decode(item).id] = true end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not live[id] then redis.call('SREM', KEYS[2], id) end
end
return 1
`;

/**
 * Redis lists (newest first, trimmed to the cap on every write) and a set per user of the ids it
 * read. Every key expires `ttlSeconds` after its last write; a user's read set is also kept alive
 * by each subscribe, so the broadcast ones a user read stay read while the user is active. A
 * user's read set is pruned of trimmed ids once it outgrows twice the cap (a notification trimmed
 * while it is marked read leaves an id there until the next prune: bounded, never shown).
 */
export class RedisNotificationStore implements NotificationStore {
  private readonly k: ReturnType<typeof userKeys>;

  constructor(
    private readonly redis: DataClient,
    private readonly cap: number,
    private readonly ttlSeconds: number,
    keys: KeySpace = keySpaceOf(redis),
  ) {
    this.k = userKeys(keys);
  }

  async add(notification: StoredNotification): Promise<void> {
    const key = notification.user_id === null ? BROADCAST_KEY : this.k.own(notification.user_id);
    await upstream(() => this.redis.multi().lPush(key, encode(notification)).lTrim(key, 0, this.cap - 1).expire(key, this.ttlSeconds).exec());
  }

  async forUser(userId: string): Promise<UserNotification[]> {
    const read = this.k.read(userId);
    const [mine, broadcast] = await upstream(() =>
      Promise.all([
        this.redis.multi().lRange(this.k.own(userId), 0, -1).sMembers(read).expire(read, this.ttlSeconds).exec() as unknown as Promise<[string[], string[], unknown]>,
        this.redis.lRange(BROADCAST_KEY, 0, -1),
      ]),
    );
    const decode = (items: string[]) => items.map((item) => JSON.parse(item) as StoredNotification);
    return merge(decode(mine[0]), decode(broadcast), new Set(mine[1]));
  }

  async markRead(userId: string, notificationId: string): Promise<MarkReadResult> {
    const keys = [this.k.own(userId), this.k.read(userId)];
    const prefix = idPrefix(notificationId);
    const [result, size] = await upstream(async () => {
      const inBroadcast = await this.redis.eval(HOLDS, { keys: [BROADCAST_KEY], arguments: [prefix] });
      return (await this.redis.eval(MARK_READ, {
        keys,
        arguments: [prefix, notificationId, String(this.ttlSeconds), String(inBroadcast)],
      })) as [number, number];
    });
    if (size > 2 * this.cap) {
      await upstream(async () => {
        const kept = (await this.redis.eval(IDS, { keys: [BROADCAST_KEY] })) as string[];
        await this.redis.eval(PRUNE, { keys, arguments: kept });
      });
    }
    return result === 1 ? 'marked' : result === 0 ? 'already_read' : 'unknown';
  }
}
