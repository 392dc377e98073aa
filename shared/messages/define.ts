import { z } from 'zod';
import type { FeatureNamespace } from '../namespaces';

/** One message type: the feature namespaces that serve it (besides `/`) and its payload schema. */
export interface MessageDef<S extends z.ZodTypeAny = z.ZodTypeAny> {
  readonly namespaces: readonly FeatureNamespace[];
  readonly schema: S;
}

/** Declares a group of message types served by the same feature namespace(s). */
export function defineMessages<M extends Record<string, z.ZodTypeAny>>(
  namespaces: FeatureNamespace | readonly FeatureNamespace[],
  schemas: M,
): { readonly [K in keyof M]: MessageDef<M[K]> } {
  const list = Object.freeze(typeof namespaces === 'string' ? [namespaces] : [...namespaces]);
  const out: Record<string, MessageDef> = {};
  for (const [type, schema] of Object.entries(schemas)) out[type] = Object.freeze({ namespaces: list, schema });
  return Object.freeze(out) as { readonly [K in keyof M]: MessageDef<M[K]> };
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
