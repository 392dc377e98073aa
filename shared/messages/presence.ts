import { z } from 'zod';
import { Cursor, IsoTimestamp, RoomId, UserStatus, defineMessages } from './define';

/** Seed 002 sections 1, 4 and 5: rooms, presence and typing. Served on `/workspace`. */
export const presenceClientMessages = defineMessages('/workspace', {
  join_room: z.object({ room_id: RoomId }),
  leave_room: z.object({ room_id: RoomId }),
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

export const presenceServerMessages = defineMessages('/workspace', {
  room_state: z.object({
    room_id: z.string(),
    users: z.array(PresenceUser),
    active_sheets: z.array(z.string()),
    total_users: z.number().int(),
  }),
  user_status_changed: z.object({ user_id: z.string(), status: UserStatus, room_id: z.string() }),
  user_typing_start: TypingEvent,
  user_typing_stop: TypingEvent,
});
