import type { DataClient } from './redis';
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

/**
 * Adds a connection unless the user is at the cap, first dropping the entries of pods that are not
 * alive. Which pods are alive comes in ARGV (from the heartbeats, `rg:pods`, a key of another slot
 * on a Redis Cluster). With ARGV[6] '0' the list is a cached one: an entry of a pod not in it is
 * not dropped but answered with 0 (unknown pod: ask again with a fresh list, '1', which drops them).
 * KEYS: the user's hash. ARGV: field, cap, now, key ttl ms, this pod, authoritative, live pods...
 * Returns the count with the connection, -count when refused at the cap, 0 to ask again.
 */
const OPEN = `
local live = {}
for i = 7, #ARGV do live[ARGV[i]] = true end
local stale = {}
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  local pod = string.match(field, '^(.*)/[^/]*$')
  if pod ~= ARGV[5] and not live[pod] then
    if ARGV[6] ~= '1' then return 0 end
    table.insert(stale, field)
  end
end
for _, field in ipairs(stale) do redis.call('HDEL', KEYS[1], field) end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return redis.call('HLEN', KEYS[1]) end
local n = redis.call('HLEN', KEYS[1])
if tonumber(ARGV[2]) > 0 and n >= tonumber(ARGV[2]) then return -n end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return n + 1`;

/** A key left behind by a pod that died with open connections expires after this long. */
const KEY_TTL_MS = 24 * 3_600_000;

/** How long the list of live pods is reused before it is read again. */
const LIVE_PODS_MAX_AGE_MS = 1000;

/**
 * Keys: per user a hash `<pod>/<connection>` → opened-at (one key: any slot on a cluster); pods
 * are alive while their heartbeat in `rg:pods` (presence) is fresher than the pod TTL. The list of
 * live pods is read at most once a second and passed to the script; an entry of a pod not in it
 * (a pod that died, or one that started after the list was read) makes the script ask again with a
 * fresh list, so a live pod's connections are never dropped on a stale list.
 */
export class RedisUserConnections implements UserConnections {
  private livePods?: { readonly at: number; readonly pods: Promise<string[]> };

  constructor(
    private readonly redis: DataClient,
    private readonly podId: string,
    private readonly podTtlMs: number,
    readonly limit: number,
  ) {}

  private key(userId: string): string {
    return `rg:user-conns:${userId}`;
  }

  /** The pods with a fresh heartbeat: the cached list unless `fresh` or older than a second. */
  private live(now: number, fresh: boolean): Promise<string[]> {
    if (!fresh && this.livePods && now - this.livePods.at < LIVE_PODS_MAX_AGE_MS) return this.livePods.pods;
    const pods = this.redis.zRangeByScore('rg:pods', String(now - this.podTtlMs), '+inf');
    const cached = { at: now, pods };
    this.livePods = cached;
    pods.catch(() => {
      if (this.livePods === cached) this.livePods = undefined;
    });
    return pods;
  }

  async open(userId: string, connectionId: string): Promise<OpenResult> {
    const n = await upstream(async () => {
      let answer = 0;
      for (const authoritative of [false, true]) {
        const now = Date.now();
        const pods = await this.live(now, authoritative);
        answer = Number(
          await this.redis.eval(OPEN, {
            keys: [this.key(userId)],
            arguments: [`${this.podId}/${connectionId}`, String(this.limit), String(now), String(KEY_TTL_MS), this.podId, authoritative ? '1' : '0', ...pods],
          }),
        );
        if (answer !== 0) break;
      }
      return answer;
    });
    return n < 0 ? { accepted: false, count: -n } : { accepted: true, count: n };
  }

  async close(userId: string, connectionId: string): Promise<void> {
    await upstream(() => this.redis.hDel(this.key(userId), `${this.podId}/${connectionId}`));
  }

  async count(userId: string): Promise<number> {
    return upstream(() => this.redis.hLen(this.key(userId)));
  }
}
