import { z } from 'zod';
import { defineMessages } from './define';

/** Seed 004 collaboration sessions: the gateway sequences edits. Served on `/workspace`. */
const SessionId = z.string().min(1).max(128);

export const Author = z.object({ userId: z.string(), username: z.string() });
export type Author = z.infer<typeof Author>;

export const collaborationClientMessages = defineMessages('/workspace', {
  join_session: z.object({ sessionId: SessionId, role: z.string().min(1).max(32).default('participant') }),
  leave_session: z.object({ sessionId: SessionId }),
  edit: z.object({
    /** Absent: the one session this connection joined. */
    sessionId: SessionId.optional(),
    operation: z.string().min(1).max(32),
    position: z.number().int().min(0),
    content: z.string().max(65536).default(''),
    /** The session version the edit was made against. */
    version: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER - 1),
  }),
});

export const collaborationServerMessages = defineMessages('/workspace', {
  session_state: z.object({ sessionId: z.string(), version: z.number().int(), role: z.string() }),
  edit: z.object({
    sessionId: z.string(),
    operation: z.string(),
    position: z.number().int(),
    content: z.string(),
    version: z.number().int(),
    author: Author,
    timestamp: z.string(),
  }),
});
