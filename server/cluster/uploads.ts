import type { KeySpace } from './keys';
import { keySpaceOf, type DataClient } from './redis';
import { upstream } from './upstream';

/**
 * What `begin` decided: a new place for the upload, the upload already in flight for that file
 * (the client asks again after a reconnect), or no place (the user has `max` unfinished uploads).
 */
export type BeginResult =
  | { readonly status: 'created' }
  | { readonly status: 'existing'; readonly uploadId: string }
  | { readonly status: 'limit'; readonly inFlight: number };

/**
 * The uploads each user has in flight, across pods: how many (UPLOAD_MAX_IN_FLIGHT), and which
 * upload carries which of the user's file ids (so `file_upload_start` sent again resumes instead of
 * starting over). A place is freed when the upload finishes or is terminated, and lapses by itself
 * at the upload's expiry, so a client that walks away never holds one for ever.
 */
export interface UploadRegistry {
  /** Takes a place for upload `uploadId` of file `fileId` until `expiresAt` (ms), unless the file is in flight already or `max` are. */
  begin(userId: string, fileId: string, uploadId: string, expiresAt: number, max: number): Promise<BeginResult>;
  /** The upload in flight for the user's file, if any. */
  find(userId: string, fileId: string): Promise<string | undefined>;
  /** Frees the upload's place (finished, terminated, or found gone). */
  end(userId: string, fileId: string, uploadId: string): Promise<void>;
}

interface UserUploads {
  /** upload id → expiry (ms). */
  readonly inFlight: Map<string, number>;
  /** file id → upload id. */
  readonly files: Map<string, string>;
}

/** One pod without Redis. */
export class MemoryUploadRegistry implements UploadRegistry {
  private readonly users = new Map<string, UserUploads>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The user's uploads with the lapsed ones pruned; a user left with none is forgotten. */
  private live(userId: string): UserUploads | undefined {
    const user = this.users.get(userId);
    if (!user) return undefined;
    const now = this.now();
    for (const [id, expiresAt] of user.inFlight) if (expiresAt <= now) user.inFlight.delete(id);
    for (const [fileId, id] of user.files) if (!user.inFlight.has(id)) user.files.delete(fileId);
    if (user.inFlight.size > 0) return user;
    this.users.delete(userId);
    return undefined;
  }

  async begin(userId: string, fileId: string, uploadId: string, expiresAt: number, max: number): Promise<BeginResult> {
    let user = this.live(userId);
    if (!user) this.users.set(userId, (user = { inFlight: new Map(), files: new Map() }));
    const existing = user.files.get(fileId);
    if (existing !== undefined) return { status: 'existing', uploadId: existing };
    if (user.inFlight.size >= max) return { status: 'limit', inFlight: user.inFlight.size };
    user.inFlight.set(uploadId, expiresAt);
    user.files.set(fileId, uploadId);
    return { status: 'created' };
  }

  async find(userId: string, fileId: string): Promise<string | undefined> {
    return this.live(userId)?.files.get(fileId);
  }

  async end(userId: string, fileId: string, uploadId: string): Promise<void> {
    const user = this.users.get(userId);
    if (!user) return;
    user.inFlight.delete(uploadId);
    if (user.files.get(fileId) === uploadId) user.files.delete(fileId);
    if (user.inFlight.size === 0) this.users.delete(userId);
  }
}

/**
 * Both keys of a user carry the same hash tag, so every script stays in one slot of a Redis
 * Cluster. These keys always had braces; on a cluster an id that would break the tag (a brace in
 * it, empty) is encoded (keys.ts).
 */
const userTag = (keys: KeySpace, userId: string) => (keys.cluster ? keys.tag(userId) : `{${userId}}`);
const inFlightKey = (keys: KeySpace, userId: string) => `rg:uploads:${userTag(keys, userId)}:inflight`;
const filesKey = (keys: KeySpace, userId: string) => `rg:uploads:${userTag(keys, userId)}:files`;

/**
 * Drops lapsed places, then answers the file's upload when it is still in flight, refuses at `max`,
 * or takes the place. The file map is pruned of lapsed uploads when it outgrows four times `max`.
 * KEYS: in-flight zset (upload id scored by expiry), files hash. ARGV: now, file id, upload id,
 * expiry, max, key ttl ms. Returns {0, id} created, {1, id} existing, {2, count} limit.
 */
const BEGIN = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local existing = redis.call('HGET', KEYS[2], ARGV[2])
if existing and redis.call('ZSCORE', KEYS[1], existing) then return {1, existing} end
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[5]) then return {2, tostring(count)} end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
if redis.call('HLEN', KEYS[2]) > 4 * tonumber(ARGV[5]) then
  local entries = redis.call('HGETALL', KEYS[2])
  for i = 1, #entries, 2 do
    if not redis.call('ZSCORE', KEYS[1], entries[i + 1]) then redis.call('HDEL', KEYS[2], entries[i]) end
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return {0, ARGV[3]}
`;

/** KEYS: in-flight zset, files hash. ARGV: now, file id. Returns the upload id or false. */
const FIND = `
local id = redis.call('HGET', KEYS[2], ARGV[2])
if not id then return false end
local expiresAt = redis.call('ZSCORE', KEYS[1], id)
if expiresAt and tonumber(expiresAt) > tonumber(ARGV[1]) then return id end
return false
`;

/** KEYS: in-flight zset, files hash. ARGV: file id, upload id. */
const END = `
redis.call('ZREM', KEYS[1], ARGV[2])
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[2], ARGV[1]) end
return 1
`;

/**
 * A sorted set per user (upload id scored by its expiry) and a hash of file id → upload id. The
 * keys live as long as the longest expiry they hold (`keyTtlMs` after the last begin).
 */
export class RedisUploadRegistry implements UploadRegistry {
  constructor(
    private readonly redis: DataClient,
    /** How long a user's keys outlive their last begin: the upload expiry. */
    private readonly keyTtlMs: number,
    private readonly keys: KeySpace = keySpaceOf(redis),
  ) {}

  async begin(userId: string, fileId: string, uploadId: string, expiresAt: number, max: number): Promise<BeginResult> {
    const [status, value] = (await upstream(() =>
      this.redis.eval(BEGIN, {
        keys: [inFlightKey(this.keys, userId), filesKey(this.keys, userId)],
        arguments: [String(Date.now()), fileId, uploadId, String(expiresAt), String(max), String(this.keyTtlMs)],
      }),
    )) as [number, string];
    if (status === 1) return { status: 'existing', uploadId: value };
    if (status === 2) return { status: 'limit', inFlight: Number(value) };
    return { status: 'created' };
  }

  async find(userId: string, fileId: string): Promise<string | undefined> {
    const id = await upstream(() => this.redis.eval(FIND, { keys: [inFlightKey(this.keys, userId), filesKey(this.keys, userId)], arguments: [String(Date.now()), fileId] }));
    return typeof id === 'string' ? id : undefined;
  }

  async end(userId: string, fileId: string, uploadId: string): Promise<void> {
    await upstream(() => this.redis.eval(END, { keys: [inFlightKey(this.keys, userId), filesKey(this.keys, userId)], arguments: [fileId, uploadId] }));
  }
}
