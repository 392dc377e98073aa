import { z } from 'zod';
import { defineClientMessages, defineServerMessages, message } from './define';

/** Seed 004 collaboration sessions: the gateway sequences edits. Served on `/workspace`. */
const SessionId = z.string().min(1).max(128);

export const Author = z.object({ userId: z.string(), username: z.string() });
export type Author = z.infer<typeof Author>;

const SessionState = z.object({ sessionId: z.string(), version: z.number().int(), role: z.string() });

export const collaborationClientMessages = defineClientMessages('/workspace', {
  join_session: message({
    schema: z.object({ sessionId: SessionId, role: z.string().min(1).max(32).default('participant') }),
    rate: 'request',
    ack: SessionState,
    reply: 'session_state',
  }),
  leave_session: message({ schema: z.object({ sessionId: SessionId }), rate: 'request', ack: z.object({ sessionId: z.string() }) }),
  edit: message({
    rate: 'request',
    ack: z.object({ sessionId: z.string(), version: z.number().int() }),
    schema: z.object({
    /** Absent: the one session this connection joined. */
    sessionId: SessionId.optional(),
    operation: z.string().min(1).max(32),
    position: z.number().int().min(0),
    content: z.string().max(65536).default(''),
    /** The session version the edit was made against. */
    version: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER - 1),
    }),
  }),
});

export const collaborationServerMessages = defineServerMessages('/workspace', {
  session_state: SessionState,
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
