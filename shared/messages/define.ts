import { z } from 'zod';
import type { FeatureNamespace } from '../namespaces';

/** One message type: the feature namespace that serves it and the schema of its payload. */
export interface MessageDef<N extends FeatureNamespace = FeatureNamespace, S extends z.ZodTypeAny = z.ZodTypeAny> {
  readonly namespace: N;
  readonly schema: S;
}

/** Declares a group of message types served by one feature namespace. */
export function defineMessages<N extends FeatureNamespace, M extends Record<string, z.ZodTypeAny>>(
  namespace: N,
  schemas: M,
): { readonly [K in keyof M]: MessageDef<N, M[K]> } {
  const out: Record<string, MessageDef> = {};
  for (const [type, schema] of Object.entries(schemas)) out[type] = Object.freeze({ namespace, schema });
  return Object.freeze(out) as { readonly [K in keyof M]: MessageDef<N, M[K]> };
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
