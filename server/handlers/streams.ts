import { randomUUID } from 'node:crypto';
import { ErrorCodes, GatewayError } from '../../shared/errors';
import type { FilterValue, StreamFilters, SubscriptionType } from '../../shared/messages/streams';
import { streamRoom } from '../../shared/rooms';
import type { GatewaySocket } from '../types';
import type { Call, Feature } from './context';

/** Subscriptions one connection may hold. */
export const MAX_SUBSCRIPTIONS = 32;

export interface Subscription {
  readonly id: string;
  readonly type: SubscriptionType;
  readonly filters: StreamFilters;
}

/** The value at a dot-notation path of a record (`payload.user_id`), own properties only. */
function valueAt(record: unknown, path: string): unknown {
  let value = record;
  for (const segment of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.prototype.hasOwnProperty.call(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

const matchesValue = (actual: unknown, expected: FilterValue): boolean =>
  Array.isArray(expected) ? expected.some((v) => v === actual) : expected === actual;

/** Seed 003 filter semantics: every filter must match; exact values, an array matches any of its values. */
export function matchesFilters(filters: StreamFilters, record: unknown): boolean {
  return Object.entries(filters).every(([path, expected]) => matchesValue(valueAt(record, path), expected));
}

/**
 * Stream subscriptions (seed 003 subscribe/unsubscribe, seed 004 analytics subscribe_metrics):
 * validated filters, an id per subscription, the socket in its stream type's room. The answer is
 * the ack `{subscription_id, type, filters}`. Deliveries come from the stream sources.
 */
export const registerStreams: Feature = (ctx) => {
  const bySocket = new WeakMap<GatewaySocket, Map<string, Subscription>>();

  const subscribe = (call: Call, type: SubscriptionType, filters: StreamFilters) => {
    let subscriptions = bySocket.get(call.socket);
    if (!subscriptions) bySocket.set(call.socket, (subscriptions = new Map()));
    if (subscriptions.size >= MAX_SUBSCRIPTIONS) {
      throw new GatewayError(ErrorCodes.RATE_LIMIT_EXCEEDED, `At most ${MAX_SUBSCRIPTIONS} subscriptions per connection`, { limit: MAX_SUBSCRIPTIONS });
    }
    const subscription: Subscription = { id: randomUUID(), type, filters };
    subscriptions.set(subscription.id, subscription);
    void call.socket.join(streamRoom(type));
    call.log.debug('subscribed', { subscription_id: subscription.id, subscription_type: type });
    return { subscription_id: subscription.id, type, filters };
  };

  ctx.handle('subscribe', ({ type, filters }, call) => subscribe(call, type, filters));

  ctx.handle('subscribe_metrics', ({ metrics }, call) => ({ ...subscribe(call, 'metrics', { metric: metrics }), metrics }));

  ctx.handle('unsubscribe', ({ subscription_id }, call) => {
    const subscriptions = bySocket.get(call.socket);
    const subscription = subscriptions?.get(subscription_id);
    if (!subscriptions || !subscription) {
      throw new GatewayError(ErrorCodes.INVALID_MESSAGE, `Unknown subscription ${subscription_id}`, { subscription_id });
    }
    subscriptions.delete(subscription_id);
    if (![...subscriptions.values()].some((s) => s.type === subscription.type)) void call.socket.leave(streamRoom(subscription.type));
    return { subscription_id };
  });
};
