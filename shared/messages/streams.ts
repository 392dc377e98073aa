import { z } from 'zod';
import { defineClientMessages, defineServerMessages, message } from './define';

/**
 * Seed 003 (streaming analytics) subscriptions and seed 004's analytics metric subscriptions,
 * served on `/streams`, and the stream items backends publish (README: Streams). Items arrive by
 * `POST /api/v1/streams/{type}` or on the Redis channel STREAMS_CHANNEL; each pod delivers them
 * to its local subscriptions whose filters match (`data`, `metric_update`).
 */
export const SubscriptionTypes = ['events', 'metrics', 'alerts', 'predictions', 'aggregations', 'system_status'] as const;
export const SubscriptionType = z.enum(SubscriptionTypes);
export type SubscriptionType = z.infer<typeof SubscriptionType>;

/**
 * The key under which a `data` delivery carries its item, per stream type (seed 003's example
 * `{type: "data", data: {event: {...}, subscription_type: "events"}}`, the singular of the type).
 */
export const StreamItemKeys: Readonly<Record<SubscriptionType, string>> = Object.freeze({
  events: 'event',
  metrics: 'metric',
  alerts: 'alert',
  predictions: 'prediction',
  aggregations: 'aggregation',
  system_status: 'status',
});

/** Items in one publication (a REST body or a channel message): bigger batches are split by the publisher. */
export const MAX_STREAM_ITEMS = 100;
/** Nesting of objects and arrays an item may have (every encoder downstream recurses). */
export const MAX_ITEM_DEPTH = 32;

/** Whether a JSON value nests at most `max` levels of objects and arrays (walked without recursion). */
export function withinDepth(value: unknown, max: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  for (let next = stack.pop(); next; next = stack.pop()) {
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.depth > max) return false;
    const children = Array.isArray(next.value) ? next.value : Object.values(next.value);
    for (const child of children) if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: next.depth + 1 });
  }
  return true;
}

/** One stream item: any JSON object (an event, a metric, an alert...); filters look into it by dot paths. */
export const StreamItem = z.record(z.unknown()).refine((item) => withinDepth(item, MAX_ITEM_DEPTH), `must nest at most ${MAX_ITEM_DEPTH} levels`);
export type StreamItem = Record<string, unknown>;

/** The body of `POST /api/v1/streams/{type}`: one item or an array of them. */
export const StreamPublishBody = z.union([StreamItem, z.array(StreamItem).min(1).max(MAX_STREAM_ITEMS)]);

/**
 * A message on the streams Redis channel (STREAMS_CHANNEL, default `rg:streams`), as any Redis
 * client may PUBLISH it: `{"type": "events", "item": {...}}` or `{"type": "events", "items": [...]}`.
 */
export const StreamPublication = z
  .object({
    type: SubscriptionType,
    item: StreamItem.optional(),
    items: z.array(StreamItem).min(1).max(MAX_STREAM_ITEMS).optional(),
  })
  .refine((p) => (p.item === undefined) !== (p.items === undefined), { message: 'exactly one of item and items', path: ['items'] });
export type StreamPublication = z.infer<typeof StreamPublication>;

/** The answer of `POST /api/v1/streams/{type}`. */
export const StreamPublishResult = z.object({
  type: SubscriptionType,
  /** Items taken. */
  accepted: z.number().int(),
  /** With Redis: subscribers of the channel that received the publication (every pod, plus any other listener). */
  receivers: z.number().int().optional(),
  /** Without Redis (one pod): the `data` and `metric_update` deliveries made. */
  delivered: z.number().int().optional(),
  timestamp: z.string(),
});
export type StreamPublishResult = z.infer<typeof StreamPublishResult>;

/** Path segments that could reach an object's prototype: never accepted in a filter path. */
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

/** A field name or a dot-notation path into the record (`payload.user_id`). */
export const FilterPath = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'must be a field name or a dot-separated path')
  .refine((path) => !path.split('.').some((s) => FORBIDDEN_SEGMENTS.has(s)), 'must not name __proto__, prototype or constructor');

const FilterScalar = z.union([z.string().max(256), z.number().finite(), z.boolean(), z.null()]);
export type FilterScalar = z.infer<typeof FilterScalar>;

/** An exact value, or an array of values any of which matches. No regex. */
export const FilterValue = z.union([FilterScalar, z.array(FilterScalar).min(1).max(100)]);
export type FilterValue = z.infer<typeof FilterValue>;

export const MAX_FILTERS = 32;
export const StreamFilters = z
  .record(FilterPath, FilterValue)
  .refine((filters) => Object.keys(filters).length <= MAX_FILTERS, `at most ${MAX_FILTERS} filters`);
export type StreamFilters = z.infer<typeof StreamFilters>;

const SubscriptionId = z.string().min(1).max(64);

const Subscribed = z.object({ subscription_id: z.string(), type: SubscriptionType, filters: z.record(FilterValue) });

export const streamClientMessages = defineClientMessages('/streams', {
  subscribe: message({ schema: z.object({ type: SubscriptionType, filters: StreamFilters.default({}) }), rate: 'request', ack: Subscribed }),
  unsubscribe: message({ schema: z.object({ subscription_id: SubscriptionId }), rate: 'request', ack: z.object({ subscription_id: z.string() }) }),
  /** Seed 004's analytics `subscribe {metrics}`, renamed: seed 003 owns `subscribe`. */
  subscribe_metrics: message({
    schema: z.object({ metrics: z.array(z.string().min(1).max(64)).min(1).max(MAX_FILTERS) }),
    rate: 'request',
    ack: Subscribed.extend({ metrics: z.array(z.string()) }),
  }),
});

export const streamServerMessages = defineServerMessages('/streams', {
  /** One delivery for one subscription (seed 003 `data`). */
  data: z.object({
    subscription_id: SubscriptionId,
    data: z.object({ subscription_type: SubscriptionType }).catchall(z.unknown()),
    metadata: z.record(z.unknown()).optional(),
  }),
  /** A live metric value (seed 004 analytics). */
  metric_update: z.object({
    subscription_id: SubscriptionId.optional(),
    metric: z.string(),
    value: z.number(),
    timestamp: z.string(),
  }),
});
