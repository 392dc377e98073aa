import { z } from 'zod';
import { Cursor, IsoTimestamp, RoomId, UserStatus, defineMessages } from './define';

/** Rooms are shared by the workspace and chat features: join and leave are served on both. */
export const roomClientMessages = defineMessages(['/workspace', '/chat'], {
  join_room: z.object({ room_id: RoomId }),
  leave_room: z.object({ room_id: RoomId }),
});

/** Seed 002 sections 4 and 5: presence and typing. Served on `/workspace`. */
export const presenceClientMessages = defineMessages('/workspace', {
  status_update: z.object({ status: UserStatus }),
  typing_start: z.object({ room: RoomId, cell_id: z.string().min(1).max(64).optional() }),
  typing_stop: z.object({ room: RoomId, cell_id: z.string().min(1).max(64).optional() }),
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

export const roomServerMessages = defineMessages(['/workspace', '/chat'], {
  room_state: z.object({
    room_id: z.string(),
    users: z.array(PresenceUser),
    active_sheets: z.array(z.string()),
    total_users: z.number().int(),
    /** Present (true) when `users` lists only part of a large room. */
    truncated: z.boolean().optional(),
  }),
});

export const presenceServerMessages = defineMessages('/workspace', {
  user_status_changed: z.object({ user_id: z.string(), status: UserStatus, room_id: z.string() }),
  user_typing_start: TypingEvent,
  user_typing_stop: TypingEvent,
});
