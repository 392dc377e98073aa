import type { Feature } from './context';
import { requireMember } from './membership';

/** Typing indicators (seed 002 section 5): to the rest of the room, never back to the sender. */
export const registerTyping: Feature = (ctx) => {
  for (const [incoming, outgoing] of [
    ['typing_start', 'user_typing_start'],
    ['typing_stop', 'user_typing_stop'],
  ] as const) {
    ctx.handle(incoming, ({ room, cell_id }, call) => {
      requireMember(call.socket, room);
      const { userId, username } = call.principal;
      ctx.rooms.toRoom(room, outgoing, { user_id: userId, username, room_id: room, cell_id }, { except: call.socket });
    });
  }
};
