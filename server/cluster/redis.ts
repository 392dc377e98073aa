import { createClient } from 'redis';
import type { Logger } from '../logger';

export type RedisClient = ReturnType<typeof createClient>;

/**
 * The Redis connections of one pod: `pub` and `sub` for the Socket.IO adapter, `data` for the
 * state stores. All reconnect by themselves (capped backoff, forever); node-redis restores the
 * subscriber's channels on reconnect. `data` fails fast while Redis is away (no offline queue),
 * so a store call answers UPSTREAM_UNAVAILABLE instead of hanging; `pub` queues until Redis is back.
 */
export interface RedisConnections {
  readonly pub: RedisClient;
  readonly sub: RedisClient;
  readonly data: RedisClient;
  /** True while every connection is ready. */
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

/**
 * Closes a client: QUIT once it is connected (pending replies arrive first). A client still
 * reconnecting gets QUIT_TIMEOUT_MS to come back; after that its socket is simply closed (QUIT
 * would wait in the offline queue for a server that may not come back), failing what it queued.
 */
async function closeClient(client: RedisClient): Promise<void> {
  if (!client.isOpen) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), QUIT_TIMEOUT_MS)));
  const ready = client.isReady ? Promise.resolve() : new Promise<void>((resolve) => client.once('ready', () => resolve()));
  const result = await Promise.race([ready.then(() => client.quit()).catch(() => undefined), late]);
  clearTimeout(timer);
  if (result === 'late' && client.isOpen) await client.disconnect().catch(() => undefined);
}

export async function connectRedis(url: string, logger: Logger, observer?: RedisObserver): Promise<RedisConnections> {
  const log = logger.child({ module: 'redis' });
  const reconnectStrategy = (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2000);
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
    pub,
    sub,
    data,
    ready: () => pub.isReady && sub.isReady && data.isReady,
    onRestored: (listener) => restored.push(listener),
    async close() {
      await Promise.allSettled([pub, sub, data].map(closeClient));
    },
  };
}
