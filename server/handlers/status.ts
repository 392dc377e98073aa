import type { Feature } from './context';

/** User status (seed 002 section 4): status_update → user_status_changed to every room of the socket. */
export const registerStatus: Feature = (ctx) => {
  ctx.handle('status_update', async ({ status }, call) => {
    const rooms = [...(call.socket.data.rooms ?? [])];
    await ctx.rooms.reserve(rooms);
    await Promise.all(rooms.map((roomId) => ctx.stores.presence.update(roomId, call.socket.id, { status })));
    for (const roomId of rooms) {
      ctx.rooms.toRoom(roomId, 'user_status_changed', { user_id: call.principal.userId, status, room_id: roomId });
    }
    return { status, rooms: rooms.length };
  });
};
