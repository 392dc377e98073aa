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
  /**
   * open and close answered without a promise, where the count is held in this process (no Redis):
   * a connect storm's admission then allocates no promise per connection. Absent where only the
   * asynchronous methods can answer.
   */
  openNow?(userId: string, connectionId: string): OpenResult;
  closeNow?(userId: string, connectionId: string): void;
}

/**
 * The count in this process. A user's connections are one id (no Set for the usual user with one
 * connection), or a Set of them from the second on.
 */
export class MemoryUserConnections implements UserConnections {
  private readonly byUser = new Map<string, string | Set<string>>();
  constructor(readonly limit: number) {}

  openNow(userId: string, connectionId: string): OpenResult {
    const held = this.byUser.get(userId);
    if (held === undefined) {
      this.byUser.set(userId, connectionId);
      return { accepted: true, count: 1 };
    }
    if (typeof held === 'string') {
      if (held === connectionId) return { accepted: true, count: 1 };
      if (this.limit > 0 && 1 >= this.limit) return { accepted: false, count: 1 };
      this.byUser.set(userId, new Set([held, connectionId]));
      return { accepted: true, count: 2 };
    }
    if (!held.has(connectionId) && this.limit > 0 && held.size >= this.limit) return { accepted: false, count: held.size };
    held.add(connectionId);
    return { accepted: true, count: held.size };
  }

  closeNow(userId: string, connectionId: string): void {
    const held = this.byUser.get(userId);
    if (held === undefined) return;
    if (typeof held === 'string') {
      if (held === connectionId) this.byUser.delete(userId);
      return;
    }
    held.delete(connectionId);
    if (held.size === 0) this.byUser.delete(userId);
  }

  async open(userId: string, connectionId: string): Promise<OpenResult> {
    return this.openNow(userId, connectionId);
  }

  async close(userId: string, connectionId: string): Promise<void> {
    this.closeNow(userId, connectionId);
  }

  async count(userId: string): Promise<number> {
    const held = this.byUser.get(userId);
    return held === undefined ? 0 : typeof held === 'string' ? 1 : held.size;
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
