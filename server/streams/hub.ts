import { StreamPublication, type StreamItem, type SubscriptionType } from '../../shared/messages/streams';
import { ErrorCodes, GatewayError } from '../../shared/errors';
import type { Cluster as IORedisCluster } from 'ioredis';
import { closeIORedis, isClusterClient, isIORedisCluster, type DataClient, type RedisClient, type SubscriberClient } from '../cluster/redis';
import type { Logger } from '../logger';

/** Delivers items of one type to this pod's matching subscriptions; returns the deliveries made. */
export type LocalDelivery = (type: SubscriptionType, items: readonly StreamItem[]) => number;

export interface StreamHubOptions {
  /** The Redis channel every pod listens on (STREAMS_CHANNEL). */
  readonly channel: string;
  /** Largest channel message read (characters); a bigger one is dropped with a warning. */
  readonly maxMessageBytes: number;
  readonly deliver: LocalDelivery;
  readonly logger: Logger;
  /**
   * With Redis: `publisher` sends (the fail-fast data connection, so a publish while Redis is away
   * fails at once instead of queueing) and `subscriber` is duplicated into this hub's own
   * subscriber connection. Without: one pod, items are delivered in-process.
   */
  readonly redis?: { readonly publisher: DataClient; readonly subscriber: SubscriberClient };
}

/** What a publish did: with Redis, how many channel subscribers got it; without, the deliveries made here. */
export type PublishOutcome = { readonly receivers: number } | { readonly delivered: number };

/** At most one warning per this interval for dropped channel messages (the rest are counted). */
const WARN_INTERVAL_MS = 10_000;

/**
 * The one delivery path of stream items: publish to every pod, match on each pod. With Redis an
 * item (from `POST /api/v1/streams/{type}`, the system_status feed, or any Redis client) is one
 * PUBLISH of `{type, items}` on the channel, and every pod, the publisher included, delivers what it
 * receives from the channel to its local subscriptions; nothing is delivered twice or skipped on the
 * publishing pod. Without Redis, publish delivers in-process.
 *
 * The channel is read on a connection of the hub's own (a duplicate of the adapter's subscriber),
 * not on the adapter's: a burst of stream items that overruns Redis's pub/sub output-buffer limit
 * then costs only that connection (Redis closes it, node-redis reconnects and resubscribes), never
 * the adapter's broadcasts; and closing the hub touches nothing the adapter uses.
 *
 * A channel message that is not JSON, not a publication (`StreamPublication`) or too big is
 * dropped and logged (a warning at most every 10 s, counting the rest): whatever any Redis client
 * sends, the pods keep serving.
 */
export class StreamHub {
  private subscriber?: RedisClient | IORedisCluster;
  private closed = false;
  private dropped = 0;
  private lastWarning = 0;
  private readonly log: Logger;

  constructor(private readonly options: StreamHubOptions) {
    this.log = options.logger.child({ module: 'streams' });
  }

  /** Starts listening on the channel (with Redis); resolves once subscribed. */
  async start(): Promise<void> {
    const redis = this.options.redis;
    if (!redis || this.closed) return;
    if (isIORedisCluster(redis.subscriber)) return this.startOnCluster(redis.subscriber);
    const subscriber = redis.subscriber.duplicate();
    this.subscriber = subscriber;
    let down = false;
    subscriber.on('error', (err: Error) => {
      if (!down) this.log.warn('streams channel connection lost', { error: err.message });
      down = true;
    });
    subscriber.on('ready', () => {
      if (down) this.log.info('streams channel connection restored');
      down = false;
    });
    await subscriber.connect();
    if (this.closed) return void (await subscriber.disconnect().catch(() => undefined));
    await subscriber.subscribe(this.options.channel, (message) => this.receive(message));
    this.log.debug('listening for stream items', { channel: this.options.channel });
  }

  /**
   * On a Redis Cluster the channel is heard both ways: SUBSCRIBE (a PUBLISH from any client, on any
   * node, reaches it) and SSUBSCRIBE (the pods' own publications, SPUBLISH, whose answer counts
   * every pod). A message arrives one way only, so nothing is delivered twice.
   */
  private async startOnCluster(template: IORedisCluster): Promise<void> {
    const subscriber = template.duplicate();
    this.subscriber = subscriber;
    let down = false;
    const lost = (err: Error) => {
      if (!down) this.log.warn('streams channel connection lost', { error: err.message });
      down = true;
    };
    subscriber.on('error', lost);
    subscriber.on('node error', lost);
    subscriber.on('ready', () => {
      if (down) this.log.info('streams channel connection restored');
      down = false;
    });
    const channel = this.options.channel;
    const onMessage = (from: string, message: string) => {
      if (from === channel) this.receive(message);
    };
    subscriber.on('message', onMessage);
    subscriber.on('smessage', onMessage);
    // The first command connects; both wait (offline queue) until the cluster is ready, and are
    // restored after every reconnect.
    try {
      await Promise.all([subscriber.subscribe(channel), subscriber.ssubscribe(channel)]);
    } catch (err) {
      if (this.closed) return; // closed while subscribing
      throw err;
    }
    this.log.debug('listening for stream items', { channel, cluster: true });
  }

  /**
   * Publishes items of one type to every pod. Throws UPSTREAM_UNAVAILABLE when Redis cannot take
   * the publication (nothing was delivered anywhere).
   */
  async publish(type: SubscriptionType, items: readonly StreamItem[]): Promise<PublishOutcome> {
    const redis = this.options.redis;
    if (!redis) return { delivered: this.options.deliver(type, items) };
    const message = JSON.stringify({ type, items });
    try {
      const publisher = redis.publisher;
      // On a cluster, PUBLISH would count only the subscribers of the node it reached; SPUBLISH
      // reaches every pod's sharded subscription and counts them all.
      const receivers = isClusterClient(publisher) ? await publisher.sPublish(this.options.channel, message) : await publisher.publish(this.options.channel, message);
      return { receivers };
    } catch (err) {
      throw new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, 'Redis is unavailable: stream items not published', { reason: (err as Error).message });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (!subscriber) return;
    // QUIT waits for every node; a node that is away would hold the stop: then the sockets close.
    if (isIORedisCluster(subscriber)) return closeIORedis(subscriber);
    if (!subscriber.isOpen) return;
    await (subscriber.isReady ? subscriber.quit() : subscriber.disconnect()).catch(() => undefined);
  }

  /** One channel message: validated, then delivered locally. */
  private receive(message: string): void {
    if (message.length > this.options.maxMessageBytes) return this.drop('too large', { bytes: message.length });
    let value: unknown;
    try {
      value = JSON.parse(message);
    } catch {
      return this.drop('not JSON', { sample: message.slice(0, 80) });
    }
    const parsed = StreamPublication.safeParse(value);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      return this.drop('not a stream publication', { issues });
    }
    const { type, item, items } = parsed.data;
    try {
      this.options.deliver(type, items ?? [item!]);
    } catch (err) {
      this.log.error('stream delivery failed', { type, error: String(err) });
    }
  }

  private drop(reason: string, details: Record<string, unknown>): void {
    this.dropped++;
    const now = Date.now();
    if (now - this.lastWarning < WARN_INTERVAL_MS) return;
    this.log.warn(`stream channel message dropped: ${reason}`, { channel: this.options.channel, dropped: this.dropped, ...details });
    this.lastWarning = now;
    this.dropped = 0;
  }
}
