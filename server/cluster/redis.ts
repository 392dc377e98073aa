import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { Cluster as IORedisCluster, type ClusterNode, type ClusterOptions } from 'ioredis';
import { createClient, createCluster } from 'redis';
import type { Server } from 'socket.io';
import type { Logger } from '../logger';
import { CLUSTER_KEYS, SINGLE_REDIS_KEYS, type KeySpace } from './keys';

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

type AdapterConstructor = Exclude<Parameters<Server['adapter']>[0], undefined>;

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

const reconnectStrategy = (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2000);

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

/** Whether every master of the cluster says `cluster_state:ok`. */
async function clusterOk(client: RedisClusterClient): Promise<boolean> {
  try {
    const answers = await Promise.all(
      client.masters.map(async (master) => String(await (await client.nodeClient(master)).sendCommand(['CLUSTER', 'INFO']))),
    );
    return answers.length > 0 && answers.every((info) => info.includes('cluster_state:ok'));
  } catch {
    return false;
  }
}

/** Races `work` against QUIT_TIMEOUT_MS; resolves 'late' when the deadline came first. */
async function withinQuitTimeout(work: Promise<unknown>): Promise<'done' | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), QUIT_TIMEOUT_MS)));
  const result = await Promise.race([work.then(() => 'done' as const, () => 'done' as const), late]);
  clearTimeout(timer);
  return result;
}

/**
 * Closes a client: QUIT once it is connected (pending replies arrive first). A client still
 * reconnecting gets QUIT_TIMEOUT_MS to come back; after that its socket is simply closed (QUIT
 * would wait in the offline queue for a server that may not come back), failing what it queued.
 */
async function closeClient(client: RedisClient): Promise<void> {
  if (!client.isOpen) return;
  const ready = client.isReady ? Promise.resolve() : new Promise<void>((resolve) => client.once('ready', () => resolve()));
  const result = await withinQuitTimeout(ready.then(() => client.quit()));
  if (result === 'late' && client.isOpen) await client.disconnect().catch(() => undefined);
}

async function closeClusterClient(client: RedisClusterClient): Promise<void> {
  if (!client.isOpen) return;
  if ((await withinQuitTimeout(client.quit())) === 'late' && client.isOpen) await client.disconnect().catch(() => undefined);
}

/** QUIT, or the sockets closed when QUIT takes longer than QUIT_TIMEOUT_MS (a node away). */
export async function closeIORedis(client: IORedisCluster): Promise<void> {
  if ((client.status as string) === 'end') return;
  if ((await withinQuitTimeout(client.quit())) === 'late' && (client.status as string) !== 'end') client.disconnect();
}

export async function connectRedis(target: RedisTarget, logger: Logger, observer?: RedisObserver): Promise<RedisConnections> {
  return typeof target === 'string' ? connectSingle(target, logger, observer) : connectCluster(target.clusterNodes, logger, observer);
}

async function connectSingle(url: string, logger: Logger, observer?: RedisObserver): Promise<RedisConnections> {
  const log = logger.child({ module: 'redis' });
  const restored: Array<() => void> = [];
  const make = (name: string, disableOfflineQueue: boolean) => {
    const client = createClient({ url, disableOfflineQueue, socket: { reconnectStrategy, connectTimeout: 5000 } });
    let down = false;
    client.on('error', (err: Error) => {
      observer?.clientError();
      if (!down) log.warn('redis connection lost', { client: name, error: err.message });
      down = true;
    });
    client.on('ready', () => {
      if (!down) return;
      down = false;
      log.info('redis connection restored', { client: name });
      if (name === 'data') for (const listener of restored) listener();
    });
    return client;
  };
  const pub = make('pub', false);
  // The adapter publishes without awaiting; a publish in flight when the connection drops would be
  // an unhandled rejection. The message is lost either way (Socket.IO's documented behaviour while
  // Redis is away): count it in the log instead.
  const publish = pub.publish.bind(pub);
  pub.publish = ((...args: Parameters<typeof publish>) =>
    publish(...args).catch((err: Error) => {
      observer?.publishFailed();
      log.debug('broadcast not published', { error: err.message });
      return 0;
    })) as typeof pub.publish;
  const sub = make('sub', false);
  const data = make('data', true);
  await Promise.all([pub.connect(), sub.connect(), data.connect()]);
  log.info('connected to redis');

  return {
    keys: SINGLE_REDIS_KEYS,
    sub,
    data,
    adapter: ({ requestsTimeout }) => createAdapter(pub, sub, { requestsTimeout }),
    ready: () => pub.isReady && sub.isReady && data.isReady,
    onRestored: (listener) => restored.push(listener),
    async close() {
      await Promise.allSettled([pub, sub, data].map(closeClient));
    },
  };
}

/** One seed node of REDIS_CLUSTER_NODES (`host:port` or a redis:// / rediss:// URL). */
interface Seed {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
}

export function parseSeed(entry: string): Seed {
  const url = new URL(/^rediss?:\/\//i.test(entry) ? entry : `redis://${entry}`);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port || 6379),
    tls: url.protocol === 'rediss:',
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
  };
}

/** The seeds; the credentials of the first that has them and TLS apply to every node the cluster reports. */
function clusterSeeds(nodes: readonly string[]): { seeds: Seed[]; auth?: Seed; tls: boolean } {
  const seeds = nodes.map(parseSeed);
  return { seeds, auth: seeds.find((s) => s.password !== undefined || s.username !== undefined), tls: seeds.some((s) => s.tls) };
}

/**
 * The stores' connection to a Redis Cluster (node-redis 4.7): one client per master, each command
 * sent to the master of its first key's slot, failing fast while that master is away (no offline
 * queue), reconnecting forever with a capped backoff. Credentials and TLS of the first seed that
 * has them apply to every node the cluster reports.
 *
 * node-redis 4.7 looks an EVAL's first key up in the script instead of its options, so it sends
 * every EVAL to a random master and, after MOVED, to another random one: on three masters about
 * one script in 25 fails outright. `eval` is therefore routed here by its first key, as every
 * other command is (rate-limiter-flexible's scripts included).
 */
export function createDataCluster(nodes: readonly string[]): RedisClusterClient {
  const { seeds, auth, tls } = clusterSeeds(nodes);
  const client = createCluster({
    rootNodes: seeds.map((s) => ({ socket: { host: s.host, port: s.port, tls: s.tls || undefined } as { host: string; port: number } })),
    defaults: {
      username: auth?.username,
      password: auth?.password,
      disableOfflineQueue: true,
      socket: { reconnectStrategy, connectTimeout: 5000, ...(tls ? { tls: true } : {}) } as { reconnectStrategy: typeof reconnectStrategy; connectTimeout: number },
    },
  });
  const evalByKey = (script: string, options?: { keys?: readonly string[]; arguments?: readonly string[] }) => {
    const keys = options?.keys ?? [];
    return client.sendCommand(keys[0], false, ['EVAL', script, String(keys.length), ...keys, ...(options?.arguments ?? [])]);
  };
  client.eval = evalByKey as typeof client.eval;
  client.EVAL = evalByKey as typeof client.EVAL;
  return client;
}

async function connectCluster(nodes: readonly string[], logger: Logger, observer?: RedisObserver): Promise<RedisConnections> {
  const log = logger.child({ module: 'redis' });
  const { seeds, auth, tls } = clusterSeeds(nodes);
  const restored: Array<() => void> = [];
  let closed = false;

  const data = createDataCluster(nodes);

  // The adapter's connections: ioredis, whose sharded subscribers keep one connection per master
  // and resubscribe slot by slot.
  const ioNodes: ClusterNode[] = seeds.map((s) => ({ host: s.host, port: s.port }));
  const ioOptions = (name: string, sharded: boolean): ClusterOptions => ({
    lazyConnect: true,
    shardedSubscribers: sharded,
    clusterRetryStrategy: (times: number) => Math.min(100 * times, 2000),
    redisOptions: {
      username: auth?.username,
      password: auth?.password,
      connectTimeout: 5000,
      connectionName: `realtime-gateway-${name}`,
      ...(tls ? { tls: {} } : {}),
    },
  });
  const pub = new IORedisCluster(ioNodes, ioOptions('pub', false));
  const sub = new IORedisCluster(ioNodes, ioOptions('sub', true));

  let down = false;
  let watching: NodeJS.Timeout | undefined;
  let probing = false;
  const lost = (name: string, err: Error) => {
    observer?.clientError();
    if (!down) log.warn('redis connection lost', { client: name, error: err.message });
    down = true;
    // Back when every connection is ready again and every master serves its slots (a master that
    // just restarted answers before the cluster takes it back): then the stores write what a
    // restarted master lost.
    watching ??= setInterval(() => {
      if (closed) return void clearInterval(watching);
      if (probing || !ready()) return;
      probing = true;
      clusterOk(data)
        .then((ok) => {
          if (!ok || closed || !watching) return;
          clearInterval(watching);
          watching = undefined;
          down = false;
          log.info('redis connection restored');
          for (const listener of restored) listener();
        })
        .finally(() => (probing = false));
    }, 200);
    watching.unref();
  };
  data.on('error', (err: Error) => lost('data', err));
  pub.on('error', (err: Error) => lost('pub', err));
  sub.on('error', (err: Error) => lost('sub', err));
  pub.on('node error', (err: Error) => lost('pub', err));
  sub.on('node error', (err: Error) => lost('sub', err));
  sub.on('nodeError', (err: Error) => lost('sub', err));

  // The sharded adapter calls these without awaiting (a rejection would be unhandled). A publish
  // that fails is lost, as with one Redis, and counted. A subscription that fails (the master of
  // its slot is away at that moment) is tried again until it holds or the room is gone: a room
  // subscribed while its master was down would otherwise never hear the other pods.
  const spublish = pub.spublish.bind(pub) as (channel: string, message: string | Buffer) => Promise<number>;
  (pub as unknown as { spublish: typeof spublish }).spublish = (channel, message) =>
    spublish(channel, message).catch((err: Error) => {
      observer?.publishFailed();
      log.debug('broadcast not published', { error: err.message });
      return 0;
    });
  const ssubscribe = sub.ssubscribe.bind(sub) as (channel: string) => Promise<unknown>;
  const sunsubscribe = sub.sunsubscribe.bind(sub) as (channel: string) => Promise<unknown>;
  const wanted = new Set<string>();
  const subscribe = (channel: string, attempt: number): void => {
    ssubscribe(channel).catch((err: Error) => {
      if (closed || !wanted.has(channel)) return;
      log.debug('sharded subscription failed, retrying', { channel, error: err.message });
      setTimeout(() => {
        if (!closed && wanted.has(channel)) subscribe(channel, attempt + 1);
      }, Math.min(100 * 2 ** Math.min(attempt, 5), 2000)).unref();
    });
  };
  (sub as unknown as { ssubscribe: (channel: string) => Promise<number> }).ssubscribe = async (channel) => {
    wanted.add(channel);
    subscribe(channel, 0);
    return 1;
  };
  (sub as unknown as { sunsubscribe: (channel: string) => Promise<unknown> }).sunsubscribe = (channel) => {
    wanted.delete(channel);
    return sunsubscribe(channel).catch(() => 0);
  };

  const connected = await Promise.allSettled([data.connect(), pub.connect(), sub.connect()]);
  const failed = connected.find((c): c is PromiseRejectedResult => c.status === 'rejected');
  if (failed) {
    // No seed answered: nothing is left trying in the background of a pod that fails to start.
    closed = true;
    if (watching) clearInterval(watching);
    pub.disconnect();
    sub.disconnect();
    if (data.isOpen) await data.disconnect().catch(() => undefined);
    throw failed.reason;
  }
  log.info('connected to redis cluster', { masters: data.masters.length });

  const ready = () => !closed && dataReady(data) && pub.status === 'ready' && sub.status === 'ready';
  return {
    keys: CLUSTER_KEYS,
    sub,
    data,
    adapter: ({ requestsTimeout }) => {
      const make = createShardedAdapter(pub, sub);
      // `new` on a factory that returns an object yields that object: socket.io calls `new adapter(nsp)`.
      return function (nsp: unknown) {
        const adapter = make(nsp);
        honourRequestsTimeout(adapter, requestsTimeout, log);
        return adapter;
      } as unknown as AdapterConstructor;
    },
    ready,
    onRestored: (listener) => restored.push(listener),
    async close() {
      closed = true;
      if (watching) clearInterval(watching);
      wanted.clear();
      await Promise.allSettled([closeClusterClient(data), closeIORedis(pub), closeIORedis(sub)]);
    },
  };
}

interface PendingRequest {
  resolve?: unknown;
  responses?: unknown[];
  timeout?: NodeJS.Timeout;
}

/**
 * The sharded adapter waits a fixed 5 s for the other pods' answers to a server-side request
 * (`serverSideEmitWithAck`: stats, admin requests); the classic one takes `requestsTimeout`. This
 * gives the sharded adapter the same deadline: when it passes, the request ends with the answers
 * that did arrive (socket.io's own timeout error, `responses` attached). A failure to ask (Redis
 * away) ends it at once with no answers instead of an unhandled rejection.
 */
function honourRequestsTimeout(adapter: unknown, timeoutMs: number, log: Logger): void {
  const a = adapter as { requests?: unknown; serverSideEmit?: (packet: unknown[]) => unknown };
  const requests = a.requests;
  const original = a.serverSideEmit;
  if (!(requests instanceof Map) || typeof original !== 'function') {
    log.warn('the sharded adapter is not as expected: server-side requests wait its own 5 s');
    return;
  }
  a.serverSideEmit = (packet: unknown[]) => {
    const ack = packet[packet.length - 1];
    if (typeof ack !== 'function') return original.call(adapter, packet);
    let settled = false;
    const finish = (err: Error | null, responses: unknown[]) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      (ack as (err: Error | null, responses: unknown[]) => void)(err, responses);
    };
    const timer = setTimeout(() => {
      let responses: unknown[] = [];
      for (const [id, request] of requests as Map<string, PendingRequest>) {
        if (request.resolve !== finish) continue;
        responses = request.responses ?? [];
        clearTimeout(request.timeout);
        requests.delete(id);
      }
      finish(new Error(`timeout reached: only ${responses.length} responses received`), responses);
    }, timeoutMs);
    return Promise.resolve()
      .then(() => original.call(adapter, [...packet.slice(0, -1), finish]))
      .catch((err: Error) => finish(err, []));
  };
}
