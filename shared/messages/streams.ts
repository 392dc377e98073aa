import { z } from 'zod';
import { defineClientMessages, defineServerMessages, message } from './define';

/**
 * Seed 003 (streaming analytics) subscriptions and seed 004's analytics metric subscriptions.
 * Served on `/streams`. The deliveries (`data`, `metric_update`) come from the stream sources.
 */
export const SubscriptionTypes = ['events', 'metrics', 'alerts', 'predictions', 'aggregations', 'system_status'] as const;
export const SubscriptionType = z.enum(SubscriptionTypes);
export type SubscriptionType = z.infer<typeof SubscriptionType>;

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
