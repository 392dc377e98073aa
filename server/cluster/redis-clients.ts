import type { Server } from 'socket.io';
import type { Cluster as IORedisCluster } from 'ioredis';
import type { createClient, createCluster } from 'redis';
import { CLUSTER_KEYS, SINGLE_REDIS_KEYS, type KeySpace } from './keys';

// What the stores, limits and streams need of a Redis connection, without loading a Redis client
// library: a pod without Redis never loads node-redis, ioredis or the adapter (server/cluster/redis.ts,
// imported only when REDIS_URL or REDIS_CLUSTER_NODES is set).

/** A node-redis 4 client of one Redis. */
export type RedisClient = ReturnType<typeof createClient>;
/** A node-redis 4 client of a Redis Cluster (commands go to the master of their first key's slot). */
export type RedisClusterClient = ReturnType<typeof createCluster>;
/** What the stores and limits run their commands on: one Redis or a cluster, the same commands. */
export type DataClient = RedisClient | RedisClusterClient;
/** The adapter's subscriber: node-redis on one Redis, an ioredis Cluster on a cluster. */
export type SubscriberClient = RedisClient | IORedisCluster;

/** Where Redis is: one Redis (REDIS_URL) or the seed nodes of a Redis Cluster (REDIS_CLUSTER_NODES). */
export type RedisTarget = string | { readonly clusterNodes: readonly string[] };

/** A Socket.IO adapter, as `io.adapter()` takes it. */
export type AdapterConstructor = Exclude<Parameters<Server['adapter']>[0], undefined>;

/**
 * The Redis connections of one pod.
 *
 * One Redis: `pub` and `sub` (node-redis) for @socket.io/redis-adapter's classic adapter, `data`
 * for the state stores. A Redis Cluster: the sharded adapter (SPUBLISH/SSUBSCRIBE, Redis 7) on two
 * ioredis Cluster clients (ioredis resubscribes a restarted master's channels one slot at a time;
 * node-redis 4.7 sends them in one SSUBSCRIBE, which Redis refuses with CROSSSLOT, and the rooms
 * of that master silently stop reaching other pods), and `data` a node-redis cluster client.
 *
 * Everything reconnects by itself (capped backoff, forever) and restores its subscriptions. `data`
 * fails fast while Redis (or the master of a key) is away, so a store call answers
 * UPSTREAM_UNAVAILABLE instead of hanging; the adapter's publisher queues until Redis is back.
 */
export interface RedisConnections {
  /** How the stores name keys (hash tags on a cluster). */
  readonly keys: KeySpace;
  /** The adapter's subscriber; the streams hub duplicates it for a connection of its own. */
  readonly sub: SubscriberClient;
  readonly data: DataClient;
  /** The Socket.IO adapter on these connections: classic on one Redis, sharded on a cluster. */
  adapter(options: { requestsTimeout: number }): AdapterConstructor;
  /** True while every connection is ready (on a cluster: every master reachable). */
  ready(): boolean;
  /** Runs `listener` each time the data connection is back after an outage (state may be lost). */
  onRestored(listener: () => void): void;
  close(): Promise<void>;
}

/** Counts what goes wrong with Redis (metrics). */
export interface RedisObserver {
  /** A broadcast the adapter could not publish (lost, as Socket.IO documents while Redis is away). */
  publishFailed(): void;
  /** An error a client reported (a lost connection, a failed command). */
  clientError(): void;
}

/** How long a QUIT may wait for its answer before the socket is simply closed. */
const QUIT_TIMEOUT_MS = 2000;

/** Whether a subscriber connection is an ioredis Cluster (REDIS_CLUSTER_NODES). */
export function isIORedisCluster(client: SubscriberClient): client is IORedisCluster {
  return (client as { isCluster?: unknown }).isCluster === true;
}

export function isClusterClient(client: DataClient): client is RedisClusterClient {
  return 'masters' in client;
}

/** The key naming that fits a client: hash tags on a cluster client, the plain names otherwise. */
export function keySpaceOf(client: DataClient): KeySpace {
  return isClusterClient(client) ? CLUSTER_KEYS : SINGLE_REDIS_KEYS;
}

/** Whether commands can run now: the client is connected (on a cluster, to every master). */
export function dataReady(client: DataClient): boolean {
  if (!isClusterClient(client)) return client.isReady;
  if (!client.isOpen || client.masters.length === 0) return false;
  return client.masters.every((m) => {
    const c = m.client as { isReady?: boolean } | Promise<unknown> | undefined;
    return c !== undefined && !(c instanceof Promise) && c.isReady === true;
  });
}

/** Races `work` against QUIT_TIMEOUT_MS; resolves 'late' when the deadline came first. */
export async function withinQuitTimeout(work: Promise<unknown>): Promise<'done' | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), QUIT_TIMEOUT_MS)));
  const result = await Promise.race([work.then(() => 'done' as const, () => 'done' as const), late]);
  clearTimeout(timer);
  return result;
}

/** QUIT, or the sockets closed when QUIT takes longer than QUIT_TIMEOUT_MS (a node away). */
export async function closeIORedis(client: IORedisCluster): Promise<void> {
  if ((client.status as string) === 'end') return;
  if ((await withinQuitTimeout(client.quit())) === 'late' && (client.status as string) !== 'end') client.disconnect();
}
