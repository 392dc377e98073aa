import { z } from 'zod';
import { Cursor, IsoTimestamp, RoomId, UserStatus, defineClientMessages, defineServerMessages, message } from './define';

/**
 * Rooms are shared by the workspace, chat and uploads features (upload progress a client relays
 * goes to its rooms): join and leave are served on all three.
 */
const RoomAck = z.object({ room_id: z.string() });

export const roomClientMessages = defineClientMessages(['/workspace', '/chat', '/uploads'], {
  join_room: message({ schema: z.object({ room_id: RoomId }), rate: 'request', ack: RoomAck }),
  leave_room: message({ schema: z.object({ room_id: RoomId }), rate: 'request', ack: RoomAck }),
});

/** Seed 002 sections 4 and 5: presence and typing. Served on `/workspace`. */
const Typing = z.object({ room: RoomId, cell_id: z.string().min(1).max(64).optional() });

export const presenceClientMessages = defineClientMessages('/workspace', {
  status_update: message({
    schema: z.object({ status: UserStatus }),
    rate: 'request',
    ack: z.object({ status: UserStatus, rooms: z.number().int() }),
  }),
  typing_start: message({ schema: Typing, rate: 'stream', maxBytes: 1024 }),
  typing_stop: message({ schema: Typing, rate: 'stream', maxBytes: 1024 }),
});

export const PresenceUser = z.object({
  user_id: z.string(),
  username: z.string(),
  email: z.string().optional(),
  room: z.string(),
  status: UserStatus,
  cursor: Cursor.nullable(),
  last_seen: IsoTimestamp,
});
export type PresenceUser = z.infer<typeof PresenceUser>;

const TypingEvent = z.object({
  user_id: z.string(),
  username: z.string(),
  room_id: z.string(),
  cell_id: z.string().optional(),
});

export const roomServerMessages = defineServerMessages(['/workspace', '/chat'], {
  room_state: z.object({
    room_id: z.string(),
    users: z.array(PresenceUser),
    active_sheets: z.array(z.string()),
    total_users: z.number().int(),
    /** Present (true) when `users` lists only part of a large room. */
    truncated: z.boolean().optional(),
  }),
});

export const presenceServerMessages = defineServerMessages('/workspace', {
  user_status_changed: z.object({ user_id: z.string(), status: UserStatus, room_id: z.string() }),
  user_typing_start: TypingEvent,
  user_typing_stop: TypingEvent,
});
