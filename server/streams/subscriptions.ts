import { type StreamFilters, type StreamItem, type SubscriptionType } from '../../shared/messages/streams';
import { clientRoom } from '../../shared/rooms';
import type { GatewaySocket } from '../types';
import { EncodedId } from './data-event';
import { clause, compileFilters, matcherOf, type Selector } from './matcher';
import type { Subscription } from './registry';

/**
 * A seed 003 subscription: filters compiled once; each matching item goes to the socket as its own
 * `data {subscription_id, data: {<event|metric|alert|prediction|aggregation|status>: item,
 * subscription_type}}` (the streaming dialect moves subscription_id to its envelope), spliced from
 * the item's shared encoding (server/streams/data-event.ts).
 */
export function dataSubscription(id: string, socket: GatewaySocket, type: SubscriptionType, filters: StreamFilters): Subscription {
  const encodedId = new EncodedId(id);
  return {
    id,
    kind: 'data',
    type,
    socket,
    matcher: compileFilters(filters),
    deliver: (_item, event) => event.sendTo(socket, encodedId),
  };
}

/** A metric item's name: `metric`, else `name` (the two spellings backends use). */
export function metricName(item: StreamItem): string | undefined {
  if (typeof item.metric === 'string') return item.metric;
  return typeof item.name === 'string' ? item.name : undefined;
}

/** Keys seed 004 metric subscriptions in the index; `#` never occurs in a filter path, so no clash. */
const METRIC_NAME: Selector = { id: '#metric-name', read: metricName };

/** The context a metric item is scoped to (`contextId` or `context_id`), if any. */
const contextOf = (item: StreamItem): string | undefined =>
  typeof item.contextId === 'string' ? item.contextId : typeof item.context_id === 'string' ? item.context_id : undefined;

function timestampOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) {
    const date = new Date(value);
    if (!Number.isNaN(date.getTime())) return date.toISOString();
  }
  return new Date().toISOString();
}

/**
 * A seed 004 analytics subscription (`subscribe {metrics}`): items of type `metrics` whose `metric`
 * (or `name`) is one of its metrics and whose `value` is a finite number become
 * `metric_update {subscription_id, metric, value, timestamp}`. The seed's analytics are per
 * context (a Durable Object per `contextId`): an item carrying `contextId` (or `context_id`) reaches
 * only subscribers in that context, i.e. whose socket is in the client room of that id (where the
 * analytics endpoint puts a connection opened with a `contextId`); an item without one reaches
 * every subscriber of the metric. The room is checked at delivery, so a later join counts.
 */
export function metricSubscription(id: string, socket: GatewaySocket, metrics: readonly string[]): Subscription {
  const matcher = matcherOf([clause(METRIC_NAME, [...metrics])], (item) => {
    if (typeof item.value !== 'number' || !Number.isFinite(item.value)) return false;
    const context = contextOf(item);
    return context === undefined || socket.rooms.has(clientRoom(context));
  });
  return {
    id,
    kind: 'metric',
    type: 'metrics',
    socket,
    matcher,
    deliver: (item) =>
      socket.emit('metric_update', { subscription_id: id, metric: metricName(item)!, value: item.value as number, timestamp: timestampOf(item.timestamp) }),
  };
}
