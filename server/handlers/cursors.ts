import type { Cursor } from '../../shared/messages/define';
import { KeyedThrottle } from '../throttle';
import type { Feature } from './context';
import { requireMember } from './membership';

/**
 * Cursors (seed 002 section 2): cursor_move → cursor_moved to the rest of the room, volatile (never
 * queued for a slow client), throttled per socket and room to CURSOR_RATE per second: the latest
 * position wins, the ones in between are dropped, the last one always goes. The position relayed
 * is also kept in presence so room_state shows it.
 */
export const registerCursors: Feature = (ctx) => {
  const throttle = new KeyedThrottle<string>(1000 / ctx.config.cursorRate);
  const log = ctx.logger.child({ module: 'cursors' });

  ctx.handle('cursor_move', ({ room, x, y, cell }, call) => {
    requireMember(call.socket, room);
    const socket = call.socket;
    const cursor: Cursor = cell === undefined ? { x, y } : { x, y, cell };
    throttle.schedule(`${socket.id}\n${room}`, () => {
      if (socket.disconnected) return;
      const { userId, username } = socket.data.principal;
      ctx.rooms.toRoom(room, 'cursor_moved', { user_id: userId, username, room_id: room, cursor }, { except: socket, volatile: true });
      return ctx.stores.presence
        .update(room, socket.id, { cursor })
        .catch((err) => log.debug('cursor not kept in presence', { error: String(err) }));
    });
  });

  ctx.onDisconnect((socket) => {
    for (const room of socket.data.rooms ?? []) throttle.cancel(`${socket.id}\n${room}`);
  });

  return () => throttle.flush();
};
