import { ErrorCodes, GatewayError } from '../../shared/errors';
import type { ServerPayload } from '../../shared/catalogue';
import { mayJoin } from '../auth/principal';
import { clientRoom } from '../../shared/rooms';
import { KeyedThrottle } from '../throttle';
import type { GatewaySocket } from '../types';
import type { Feature, FeatureContext } from './context';
import { joinedRooms } from './membership';

/** A room's state, listing at most PRESENCE_BROADCAST_MAX_USERS users (`truncated` when more). */
async function roomState(ctx: FeatureContext, roomId: string): Promise<ServerPayload<'room_state'>> {
  const max = ctx.config.presenceBroadcastMaxUsers;
  const { presence, cells } = ctx.stores;
  const [total, users, activeSheets] = await Promise.all([presence.count(roomId), presence.list(roomId, max), cells.activeSheets(roomId)]);
  const state = { room_id: roomId, users, active_sheets: activeSheets, total_users: Math.max(total, users.length) };
  return state.total_users > users.length ? { ...state, truncated: true } : state;
}

/**
 * Rooms and cluster-wide presence (seed 002 sections 1 and 4): join_room, leave_room, and a fresh
 * room_state to the room on every join, leave and disconnect, at most once per room per
 * ROOM_STATE_INTERVAL_MS (the latest state always goes: a burst of joins costs a handful of
 * pushes, not one per join). user_joined / user_left (seed 004) mark a user's first and last
 * connection in a room.
 *
 * Rooms of more than PRESENCE_BROADCAST_MAX_USERS users are "large": there every join or leave
 * would cost a delivery per member, and a full member list per member, so a join storm would grow
 * with the square of the room. In a large room nobody is told of joins and leaves; a joiner gets a
 * room_state of its own with the first PRESENCE_BROADCAST_MAX_USERS users, `total_users` and
 * `truncated: true`. Presence itself (stats, the rooms endpoint) stays exact.
 *
 * The `rooms` claim decides who may join what. This module also runs the presence heartbeat and
 * reaps the entries of pods that died.
 */
export const registerRooms: Feature = (ctx) => {
  const { presence } = ctx.stores;
  const log = ctx.logger.child({ module: 'rooms' });
  const pushes = new KeyedThrottle<string>(ctx.config.roomStateIntervalMs);

  const publishRoomState = (roomId: string) =>
    pushes.schedule(roomId, () =>
      roomState(ctx, roomId).then(
        (state) => ctx.rooms.toRoom(roomId, 'room_state', state),
        (err) => log.warn('room_state push failed', { room_id: roomId, error: String(err) }),
      ),
    );

  const announce = (type: 'user_joined' | 'user_left', roomId: string, userId: string, username: string) =>
    ctx.rooms.toRoom(roomId, type, { userId, username, room_id: roomId });

  const isLarge = async (roomId: string) => (await presence.count(roomId)) > ctx.config.presenceBroadcastMaxUsers;

  const leave = async (socket: GatewaySocket, roomId: string) => {
    const { userId, username } = socket.data.principal;
    const gone = await presence.leave(roomId, socket.id);
    if (await isLarge(roomId)) return;
    if (gone) announce('user_left', roomId, userId, username);
    publishRoomState(roomId);
  };

  ctx.handle('join_room', async ({ room_id }, call) => {
    if (!mayJoin(call.principal, room_id)) {
      throw new GatewayError(ErrorCodes.PERMISSION_DENIED, `Not allowed to join room ${room_id}`, { room_id });
    }
    const rooms = joinedRooms(call.socket);
    if (!rooms.has(room_id)) {
      // Recorded before the first await, so a disconnect meanwhile still cleans this room up.
      rooms.add(room_id);
      call.socket.join(clientRoom(room_id));
      const { userId, username, email } = call.principal;
      let first: boolean;
      try {
        first = await presence.join(room_id, call.socket.id, { userId, username, email });
      } catch (err) {
        rooms.delete(room_id);
        call.socket.leave(clientRoom(room_id));
        throw err;
      }
      ctx.activity.roomJoin(room_id);
      call.log.debug('joined room', { room_id });
      if (await isLarge(room_id)) {
        call.socket.emit('room_state', await roomState(ctx, room_id));
        return { room_id };
      }
      if (first) announce('user_joined', room_id, userId, username);
    }
    publishRoomState(room_id);
    return { room_id };
  });

  ctx.handle('leave_room', async ({ room_id }, call) => {
    const rooms = joinedRooms(call.socket);
    if (!rooms.has(room_id)) throw new GatewayError(ErrorCodes.NOT_IN_ROOM, `Not in room ${room_id}`, { room_id });
    rooms.delete(room_id);
    call.socket.leave(clientRoom(room_id));
    await leave(call.socket, room_id);
    return { room_id };
  });

  ctx.onDisconnect(async (socket) => {
    const rooms = socket.data.rooms;
    if (rooms?.size) await Promise.all([...rooms].map((roomId) => leave(socket, roomId)));
  });

  let stopped = false;
  const beat = async () => {
    try {
      await presence.heartbeat();
      const reaped = await presence.reap();
      if (reaped.length) log.info('reaped presence of stopped pods', { rooms: reaped.length });
      for (const { room, goneUsers } of reaped) {
        if (await isLarge(room)) continue;
        for (const { userId, username } of goneUsers) announce('user_left', room, userId, username);
        publishRoomState(room);
      }
    } catch (err) {
      if (!stopped) log.warn('presence heartbeat failed', { error: String(err) });
    }
  };
  void beat();
  const timer = setInterval(beat, ctx.config.presence.heartbeatMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await pushes.flush();
  };
};
