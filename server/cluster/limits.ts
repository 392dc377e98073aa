import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { LimitsConfig } from '../config';
import type { Logger } from '../logger';
import { dataReady, type DataClient } from './redis';
import { MemoryUserConnections, RedisUserConnections, type UserConnections } from './user-connections';

/** A limiter's answer: allowed, or refused with how long until it would be allowed. */
export interface RateDecision {
  readonly allowed: boolean;
  readonly retryAfterMs: number;
}

const ALLOWED: RateDecision = Object.freeze({ allowed: true, retryAfterMs: 0 });

/**
 * The cluster-wide budgets (README: Rate limits and protection), as domain operations. With Redis
 * every pod counts against the same counters; without it, one pod counts in memory. The
 * per-connection budgets are not here: a connection lives on one pod (server/limits/).
 */
export interface Limits {
  /** One request-class message of a user: per minute (then blocked), per hour. */
  userRequest(userId: string): Promise<RateDecision>;
  /** Whether a user is blocked (went over the minute budget), without counting anything. */
  userBlocked(userId: string): Promise<RateDecision>;
  /** One broadcast into a client room. */
  roomBroadcast(roomId: string): Promise<RateDecision>;
  /** One new connection from a client address. */
  ipConnection(address: string): Promise<RateDecision>;
  /** The connections each user holds, across pods (WEBSOCKET_MAX_CONNECTIONS_PER_USER). */
  readonly connections: UserConnections;
  /** True when CONNECTIONS_PER_IP_PER_MINUTE is off: ipConnection would allow every address. */
  readonly ipConnectionsOff?: boolean;
  /**
   * userBlocked answered without a promise where it can be (the limit is off, or counted in this
   * process); undefined where only userBlocked can answer (Redis).
   */
  userBlockedNow?(userId: string): RateDecision | undefined;
}

/** Points per window; 0 means the limit is off. */
interface Budget {
  readonly name: string;
  readonly points: number;
  readonly seconds: number;
  /** Seconds a key stays refused once it went over (0: until the window ends). */
  readonly blockSeconds?: number;
}

type LimiterFactory = (budget: Budget) => RateLimiterAbstract;

const memoryLimiter: LimiterFactory = (b) =>
  new RateLimiterMemory({ keyPrefix: `rg:rl:${b.name}`, points: b.points, duration: b.seconds, blockDuration: b.blockSeconds ?? 0 });

/**
 * Redis limiters (rate-limiter-flexible's atomic Lua counter per key), each insured by an
 * in-memory twin: while Redis is away the pod counts on its own, so the limits still hold per pod
 * (fail open for the cluster-wide total, never open for a flood), and a warning is logged once per
 * outage. Once a key is over its budget it is refused from memory until its window or block
 * ends, without asking Redis again: a flood costs no Redis traffic.
 */
function redisLimiterFactory(client: DataClient, log: Logger): LimiterFactory {
  let warned = false;
  return (b) => {
    const limiter = new RateLimiterRedis({
      // A node-redis client of one Redis or of a cluster (each limiter key is one key: any slot).
      storeClient: client,
      useRedisPackage: true,
      rejectIfRedisNotReady: true,
      keyPrefix: `rg:rl:${b.name}`,
      points: b.points,
      duration: b.seconds,
      blockDuration: b.blockSeconds ?? 0,
      inMemoryBlockOnConsumed: b.points + 1,
      // With a block, memory must hold the key for the block (and Redis must be told of it);
      // without one, until the window ends.
      inMemoryBlockDuration: b.blockSeconds ?? 0,
      insuranceLimiter: memoryLimiter(b),
    });
    const consume = limiter.consume.bind(limiter);
    limiter.consume = (key, points) => {
      if (dataReady(client)) warned = false;
      else if (!warned) {
        warned = true;
        log.warn('redis is away: rate limits are counted per pod until it returns');
      }
      return consume(key, points);
    };
    return limiter;
  };
}

/** Consumes one point; a limiter that fails for another reason than the budget lets the message through. */
async function take(limiter: RateLimiterAbstract | undefined, key: string, log: Logger): Promise<RateDecision> {
  if (!limiter) return ALLOWED;
  try {
    await limiter.consume(key, 1);
    return ALLOWED;
  } catch (err) {
    if (err instanceof RateLimiterRes) return { allowed: false, retryAfterMs: Math.max(1, Math.ceil(err.msBeforeNext)) };
    log.warn('rate limiter failed, letting the message through', { error: String(err) });
    return ALLOWED;
  }
}

const refusedFirst = (a: RateDecision, b: RateDecision): RateDecision =>
  a.allowed ? b : b.allowed ? a : { allowed: false, retryAfterMs: Math.max(a.retryAfterMs, b.retryAfterMs) };

export function createLimits(config: LimitsConfig, logger: Logger, redis?: { data: DataClient; podId: string; podTtlMs: number }): Limits {
  const log = logger.child({ module: 'limits' });
  const factory = redis ? redisLimiterFactory(redis.data, log) : memoryLimiter;
  const make = (b: Budget) => (b.points > 0 ? factory(b) : undefined);
  const perMinute = make({
    name: 'user-minute',
    points: config.userRequestsPerMinute,
    seconds: 60,
    blockSeconds: Math.ceil(config.blockDurationMs / 1000),
  });
  const perHour = make({ name: 'user-hour', points: config.userRequestsPerHour, seconds: 3600 });
  const rooms = make({ name: 'room', points: config.roomBroadcastsPerMinute, seconds: 60 });
  const ips = make({ name: 'ip', points: config.connectionsPerIpPerMinute, seconds: 60 });
  const blockedBy = (res: RateLimiterRes | null): RateDecision =>
    res && res.consumedPoints > config.userRequestsPerMinute ? { allowed: false, retryAfterMs: Math.max(1, Math.ceil(res.msBeforeNext)) } : ALLOWED;
  // The in-memory limiter reads its counter synchronously (its get only wraps it in a promise).
  const memoryStore = !redis && perMinute ? (perMinute as unknown as { _memoryStorage?: { get?(key: string): RateLimiterRes | null } })._memoryStorage : undefined;
  const syncGet = memoryStore && typeof memoryStore.get === 'function' ? memoryStore : undefined;
  return {
    ipConnectionsOff: !ips,
    userBlockedNow(userId) {
      if (!perMinute) return ALLOWED;
      if (!syncGet) return undefined;
      try {
        return blockedBy(syncGet.get!(perMinute.getKey(userId)));
      } catch {
        return ALLOWED;
      }
    },
    async userRequest(userId) {
      const [minute, hour] = await Promise.all([take(perMinute, userId, log), take(perHour, userId, log)]);
      return refusedFirst(minute, hour);
    },
    async userBlocked(userId) {
      if (!perMinute) return ALLOWED;
      try {
        return blockedBy(await perMinute.get(userId));
      } catch {
        return ALLOWED;
      }
    },
    roomBroadcast: (roomId) => take(rooms, roomId, log),
    ipConnection: (address) => take(ips, address, log),
    connections: redis
      ? new RedisUserConnections(redis.data, redis.podId, redis.podTtlMs, config.maxConnectionsPerUser)
      : new MemoryUserConnections(config.maxConnectionsPerUser),
  };
}
