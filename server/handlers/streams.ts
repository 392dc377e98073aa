import { randomUUID } from 'node:crypto';
import { ErrorCodes, GatewayError } from '../../shared/errors';
import type { StreamItem, SubscriptionType } from '../../shared/messages/streams';
import { streamRoom } from '../../shared/rooms';
import { streamRoutes } from '../http/streams';
import { DataEvent } from '../streams/data-event';
import { StreamHub } from '../streams/hub';
import { SubscriptionRegistry, type Subscription } from '../streams/registry';
import { dataSubscription, metricSubscription } from '../streams/subscriptions';
import { startSystemStatus } from '../streams/system-status';
import type { Call, Feature } from './context';

/** Subscriptions one connection may hold. */
export const MAX_SUBSCRIPTIONS = 32;

/** Channel messages up to this size are read even when ADMIN_BODY_MAX_BYTES is smaller. */
const MIN_CHANNEL_MESSAGE_BYTES = 1 << 20;

/**
 * Live streams (README: Streams). Subscriptions: seed 003 `subscribe {type, filters}` /
 * `unsubscribe` and seed 004's analytics `subscribe_metrics {metrics}`, each with an id, its
 * filters compiled once into a matcher and kept in this pod's index by type
 * (server/streams/registry.ts); the ack is `{subscription_id, type, filters}`.
 *
 * Items: one delivery path for every producer, the hub (server/streams/hub.ts): `POST
 * /api/v1/streams/{type}`, the Redis channel STREAMS_CHANNEL (any Redis client may PUBLISH) and the
 * gateway's own system_status feed all publish to every pod, and each pod sends every matching
 * local subscription its own event with its own subscription_id. Delivery is at most once, in
 * publication order per publisher; nothing is stored or replayed.
 *
 * The socket also joins `stream:<type>` (shared/rooms.ts) while it holds a subscription of that
 * type: a backend with `@socket.io/redis-emitter` can still reach every subscriber unfiltered.
 */
export const registerStreams: Feature = (ctx) => {
  const registry = new SubscriptionRegistry();

  const deliver = (type: SubscriptionType, items: readonly StreamItem[]): number => {
    let sent = 0;
    let metricUpdates = 0;
    for (const item of items) {
      let event: DataEvent | undefined; // made for the first match: an item nobody matches costs nothing
      registry.forEachMatch(type, item, (sub) => {
        if (!sub.socket.connected) return;
        sub.deliver(item, (event ??= new DataEvent(type, item)));
        if (sub.kind === 'metric') metricUpdates++;
        else sent++;
      });
    }
    ctx.metrics.messagesSent('data', sent);
    ctx.metrics.messagesSent('metric_update', metricUpdates);
    return sent + metricUpdates;
  };

  const hub = new StreamHub({
    channel: ctx.config.publishing.streamsChannel,
    maxMessageBytes: Math.max(MIN_CHANNEL_MESSAGE_BYTES, ctx.config.publishing.bodyMaxBytes * 2),
    deliver,
    logger: ctx.logger,
    redis: ctx.redis ? { publisher: ctx.redis.data, subscriber: ctx.redis.sub } : undefined,
  });
  hub.start().catch((err: Error) => ctx.logger.error('streams channel not subscribed', { module: 'streams', error: err.message }));

  const add = (call: Call, make: (id: string) => Subscription) => {
    // A subscribe that reaches its handler after the socket went would never be cleaned up.
    if (!call.socket.connected) throw new GatewayError(ErrorCodes.INVALID_MESSAGE, 'Connection closed');
    if ((registry.ofSocket(call.socket)?.size ?? 0) >= MAX_SUBSCRIPTIONS) {
      throw new GatewayError(ErrorCodes.RATE_LIMIT_EXCEEDED, `At most ${MAX_SUBSCRIPTIONS} subscriptions per connection`, { limit: MAX_SUBSCRIPTIONS });
    }
    const subscription = make(randomUUID());
    registry.add(subscription);
    void call.socket.join(streamRoom(subscription.type));
    call.log.debug('subscribed', { subscription_id: subscription.id, subscription_type: subscription.type });
    return subscription;
  };

  ctx.handle('subscribe', ({ type, filters }, call) => {
    const { id } = add(call, (id) => dataSubscription(id, call.socket, type, filters));
    return { subscription_id: id, type, filters };
  });

  ctx.handle('subscribe_metrics', ({ metrics }, call) => {
    const { id } = add(call, (id) => metricSubscription(id, call.socket, metrics));
    return { subscription_id: id, type: 'metrics' as const, filters: { metric: metrics }, metrics };
  });

  ctx.handle('unsubscribe', ({ subscription_id }, call) => {
    const removed = registry.remove(call.socket, subscription_id);
    if (!removed) throw new GatewayError(ErrorCodes.INVALID_MESSAGE, `Unknown subscription ${subscription_id}`, { subscription_id });
    const mine = registry.ofSocket(call.socket);
    if (![...(mine?.values() ?? [])].some((s) => s.type === removed.type)) void call.socket.leave(streamRoom(removed.type));
    return { subscription_id };
  });

  ctx.onDisconnect((socket) => registry.removeSocket(socket));

  ctx.http.use(
    streamRoutes({
      requireAdmin: ctx.requireAdmin,
      bodyMaxBytes: ctx.config.publishing.bodyMaxBytes,
      publish: (type, items) => hub.publish(type, items),
    }),
  );

  const stopStatus = startSystemStatus({
    intervalMs: ctx.config.publishing.systemStatusIntervalMs,
    podId: ctx.config.podId,
    connections: () => ctx.io.engine.clientsCount,
    subscriptions: () => registry.size,
    redis: () => (ctx.redis ? (ctx.redis.ready() ? 'connected' : 'disconnected') : 'disabled'),
    publish: (item) => hub.publish('system_status', [item]),
    logger: ctx.logger,
  });

  return async () => {
    stopStatus();
    await hub.close();
  };
};
