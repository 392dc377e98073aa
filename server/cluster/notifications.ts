import type { NotificationPriority } from '../../shared/messages/notifications';
import type { RedisClient } from './redis';
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

const ownKey = (userId: string) => `rg:notifications:user:${userId}`;
const readKey = (userId: string) => `rg:notifications:read:${userId}`;
const BROADCAST_KEY = 'rg:notifications:broadcast';

/** The id first, so a script can find a notification by the prefix of its JSON without decoding it. */
function encode(n: StoredNotification): string {
  const { id, ...rest } = n;
  return JSON.stringify({ id, ...rest });
}
const idPrefix = (id: string): string => `{"id":${JSON.stringify(id)},`;

/**
 * Marks read only an id that one of the user's two lists holds (no unbounded read set of made-up
 * ids), and prunes the read set of trimmed ids once it outgrows both lists: one script, so a
 * notification trimmed meanwhile cannot slip in.
 * KEYS: own list, broadcast list, read set. ARGV: id prefix, id, ttl seconds, largest read set.
 * Returns 1 marked, 0 already read, -1 unknown.
 */
const MARK_READ = `
local prefix = ARGV[1]
local function holds(key)
  for _, item in ipairs(redis.call('LRANGE', key, 0, -1)) do
    if string.sub(item, 1, #prefix) == prefix then return true end
  end
  return false
end
if not holds(KEYS[1]) and not holds(KEYS[2]) then return -1 end
local added = redis.call('SADD', KEYS[3], ARGV[2])
redis.call('EXPIRE', KEYS[3], ARGV[3])
if redis.call('SCARD', KEYS[3]) > tonumber(ARGV[4]) then
  local live = {}
  for _, key in ipairs({KEYS[1], KEYS[2]}) do
    for _, item in ipairs(redis.call('LRANGE', key, 0, -1)) do live[cjson.decode(item).id] = true end
  end
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    if not live[id] then redis.call('SREM', KEYS[3], id) end
  end
end
return added
`;

/**
 * Redis lists (newest first, trimmed to the cap on every write) and a set per user of the ids it
 * read. Every key expires `ttlSeconds` after its last write; a user's read set is also kept alive
 * by each subscribe, so the broadcast ones a user read stay read while the user is active.
 */
export class RedisNotificationStore implements NotificationStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly cap: number,
    private readonly ttlSeconds: number,
  ) {}

  async add(notification: StoredNotification): Promise<void> {
    const key = notification.user_id === null ? BROADCAST_KEY : ownKey(notification.user_id);
    await upstream(() => this.redis.multi().lPush(key, encode(notification)).lTrim(key, 0, this.cap - 1).expire(key, this.ttlSeconds).exec());
  }

  async forUser(userId: string): Promise<UserNotification[]> {
    const [own, broadcast, read] = (await upstream(() =>
      this.redis
        .multi()
        .lRange(ownKey(userId), 0, -1)
        .lRange(BROADCAST_KEY, 0, -1)
        .sMembers(readKey(userId))
        .expire(readKey(userId), this.ttlSeconds)
        .exec(),
    )) as unknown as [string[], string[], string[], unknown];
    const decode = (items: string[]) => items.map((item) => JSON.parse(item) as StoredNotification);
    return merge(decode(own), decode(broadcast), new Set(read));
  }

  async markRead(userId: string, notificationId: string): Promise<MarkReadResult> {
    const result = await upstream(() =>
      this.redis.eval(MARK_READ, {
        keys: [ownKey(userId), BROADCAST_KEY, readKey(userId)],
        arguments: [idPrefix(notificationId), notificationId, String(this.ttlSeconds), String(2 * this.cap)],
      }),
    );
    return result === 1 ? 'marked' : result === 0 ? 'already_read' : 'unknown';
  }
}
