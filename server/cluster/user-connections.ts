import type { RedisClient } from './redis';
import { upstream } from './upstream';

/** The answer to opening a connection: accepted, or refused at the cap, with the user's count. */
export interface OpenResult {
  readonly accepted: boolean;
  readonly count: number;
}

/**
 * The connections each user holds, on every pod, capped (seed 001: 5 per user). A connection is
 * counted from its handshake to its close; a pod that dies without closing its connections stops
 * counting once its heartbeat is stale (the same heartbeat as presence).
 */
export interface UserConnections {
  readonly limit: number;
  open(userId: string, connectionId: string): Promise<OpenResult>;
  close(userId: string, connectionId: string): Promise<void>;
  count(userId: string): Promise<number>;
}

export class MemoryUserConnections implements UserConnections {
  private readonly byUser = new Map<string, Set<string>>();
  constructor(readonly limit: number) {}

  async open(userId: string, connectionId: string): Promise<OpenResult> {
    let set = this.byUser.get(userId);
    if (!set) this.byUser.set(userId, (set = new Set()));
    if (!set.has(connectionId) && this.limit > 0 && set.size >= this.limit) return { accepted: false, count: set.size };
    set.add(connectionId);
    return { accepted: true, count: set.size };
  }

  async close(userId: string, connectionId: string): Promise<void> {
    const set = this.byUser.get(userId);
    if (!set) return;
    set.delete(connectionId);
    if (set.size === 0) this.byUser.delete(userId);
  }

  async count(userId: string): Promise<number> {
    return this.byUser.get(userId)?.size ?? 0;
  }
}

/** Drops the entries of other pods whose heartbeat is stale or gone, then adds the connection unless at the cap. */
const OPEN = `
local fields = redis.call('HKEYS', KEYS[1])
for _, field in ipairs(fields) do
  local pod = string.match(field, '^(.*)/[^/]*$')
  if pod ~= ARGV[6] then
    local beat = redis.call('ZSCORE', KEYS[2], pod)
    if (not beat) or tonumber(beat) < tonumber(ARGV[3]) then redis.call('HDEL', KEYS[1], field) end
  end
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return redis.call('HLEN', KEYS[1]) end
local n = redis.call('HLEN', KEYS[1])
if tonumber(ARGV[2]) > 0 and n >= tonumber(ARGV[2]) then return -n end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return n + 1`;

/** A key left behind by a pod that died with open connections expires after this long. */
const KEY_TTL_MS = 24 * 3_600_000;

/** Keys: per user a hash `<pod>/<connection>` → opened-at; pods are those of `rg:pods` (presence heartbeats). */
export class RedisUserConnections implements UserConnections {
  constructor(
    private readonly redis: RedisClient,
    private readonly podId: string,
    private readonly podTtlMs: number,
    readonly limit: number,
  ) {}

  private key(userId: string): string {
    return `rg:user-conns:${userId}`;
  }

  async open(userId: string, connectionId: string): Promise<OpenResult> {
    const now = Date.now();
    const n = Number(
      await upstream(() =>
        this.redis.eval(OPEN, {
          keys: [this.key(userId), 'rg:pods'],
          arguments: [`${this.podId}/${connectionId}`, String(this.limit), String(now - this.podTtlMs), String(now), String(KEY_TTL_MS), this.podId],
        }),
      ),
    );
    return n < 0 ? { accepted: false, count: -n } : { accepted: true, count: n };
  }

  async close(userId: string, connectionId: string): Promise<void> {
    await upstream(() => this.redis.hDel(this.key(userId), `${this.podId}/${connectionId}`));
  }

  async count(userId: string): Promise<number> {
    return upstream(() => this.redis.hLen(this.key(userId)));
  }
}
