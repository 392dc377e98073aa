import { z } from 'zod';
import type { FeatureNamespace } from '../namespaces';

/**
 * Rate classes (README: Rate limits and protection):
 * - `request`: a message that asks the gateway or a backend to do work (join, cell update, chat,
 *   calculation, subscription): counted per user across pods and per connection, refused with
 *   RATE_LIMIT_EXCEEDED over budget.
 * - `stream`: high-frequency, superseded by the next one (cursor moves, typing): throttled per
 *   connection; over budget it is dropped silently, never refused.
 * - `control`: keeps the connection itself going (token refresh): its own small budget.
 */
export const RateClasses = ['request', 'stream', 'control'] as const;
export type RateClass = (typeof RateClasses)[number];

/** How a client message type is declared: its schema, rate class, ack fields and reply event. */
export interface MessageSpec<S extends z.ZodTypeAny = z.ZodTypeAny, A extends z.ZodTypeAny = z.ZodTypeAny> {
  readonly schema: S;
  readonly rate: RateClass;
  /** The fields of a successful ack (`{ok: true, ...}`); also what a `reply` event carries. */
  readonly ack: A;
  /** A client that sent no ack callback gets the result as this server event (request/response types). */
  readonly reply?: string;
  /** This type's frame size limit in bytes, below MAX_MESSAGE_BYTES (the smaller one applies). */
  readonly maxBytes?: number;
}

/** One message type as the catalogue holds it: the spec plus the feature namespaces that serve it (besides `/`). */
export interface MessageDef<S extends z.ZodTypeAny = z.ZodTypeAny, A extends z.ZodTypeAny = z.ZodTypeAny> extends MessageSpec<S, A> {
  readonly namespaces: readonly FeatureNamespace[];
}

/** An ack with no fields beyond `ok`. */
export const NoAckFields = z.object({});

/** Declares a client message type (see MessageSpec). */
export function message<S extends z.ZodTypeAny, A extends z.ZodTypeAny = typeof NoAckFields>(spec: {
  schema: S;
  rate: RateClass;
  ack?: A;
  reply?: string;
  maxBytes?: number;
}): MessageSpec<S, A> {
  return { ...spec, ack: (spec.ack ?? NoAckFields) as A };
}

/** Declares a group of client message types served by the same feature namespace(s). */
export function defineClientMessages<M extends Record<string, MessageSpec>>(
  namespaces: FeatureNamespace | readonly FeatureNamespace[],
  specs: M,
): { readonly [K in keyof M]: MessageDef<M[K]['schema'], M[K]['ack']> } {
  const list = Object.freeze(typeof namespaces === 'string' ? [namespaces] : [...namespaces]);
  const out: Record<string, MessageDef> = {};
  for (const [type, spec] of Object.entries(specs)) out[type] = Object.freeze({ ...spec, namespaces: list });
  return Object.freeze(out) as { readonly [K in keyof M]: MessageDef<M[K]['schema'], M[K]['ack']> };
}

/** A server event: the feature namespaces that receive it (besides `/`) and its payload schema. */
export interface EventDef<S extends z.ZodTypeAny = z.ZodTypeAny> {
  readonly namespaces: readonly FeatureNamespace[];
  readonly schema: S;
}

/** Declares a group of server events sent on the same feature namespace(s). */
export function defineServerMessages<M extends Record<string, z.ZodTypeAny>>(
  namespaces: FeatureNamespace | readonly FeatureNamespace[],
  schemas: M,
): { readonly [K in keyof M]: EventDef<M[K]> } {
  const list = Object.freeze(typeof namespaces === 'string' ? [namespaces] : [...namespaces]);
  const out: Record<string, EventDef> = {};
  for (const [type, schema] of Object.entries(schemas)) out[type] = Object.freeze({ namespaces: list, schema });
  return Object.freeze(out) as { readonly [K in keyof M]: EventDef<M[K]> };
}

/** Field shapes shared by several message groups. */
export const RoomId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');

export const IsoTimestamp = z.string();

export const Cursor = z.object({
  x: z.number().finite(),
  y: z.number().finite(),
  cell: z.string().max(64).optional(),
});
export type Cursor = z.infer<typeof Cursor>;

export const UserStatus = z.enum(['online', 'away', 'busy']);
export type UserStatus = z.infer<typeof UserStatus>;
