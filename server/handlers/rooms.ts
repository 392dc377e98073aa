import { ErrorCodes, GatewayError } from '../../shared/errors';
import type { ServerPayload } from '../../shared/catalogue';
import { mayJoin } from '../auth/principal';
import { clientRoom } from '../rooms';
import type { GatewaySocket } from '../types';
import type { Feature, FeatureContext } from './context';

/** The client rooms a socket is in (lazily created set on socket.data). */
export function joinedRooms(socket: GatewaySocket): Set<string> {
  return (socket.data.rooms ??= new Set());
}

async function roomState(ctx: FeatureContext, roomId: string): Promise<ServerPayload<'room_state'>> {
  const users = await ctx.stores.presence.list(roomId);
  return { room_id: roomId, users, active_sheets: [], total_users: users.length };
}

/** Pushes a fresh room_state to everyone in the room, on every pod. */
export async function publishRoomState(ctx: FeatureContext, roomId: string): Promise<void> {
  ctx.rooms.toRoom(roomId, 'room_state', await roomState(ctx, roomId));
}

/**
 * Rooms and cluster-wide presence (seed 002 sections 1 and 4): join_room, leave_room, room_state on
 * every join, leave and disconnect. The `rooms` claim decides who may join what. This module also
 * runs the presence heartbeat and reaps the entries of pods that died, pushing fresh room_state.
 */
export const registerRooms: Feature = (ctx) => {
  const { presence } = ctx.stores;
  const log = ctx.logger.child({ module: 'rooms' });

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
      try {
        await presence.join(room_id, call.socket.id, { userId, username, email });
      } catch (err) {
        rooms.delete(room_id);
        call.socket.leave(clientRoom(room_id));
        throw err;
      }
      ctx.activity.roomJoin(room_id);
      call.log.debug('joined room', { room_id });
    }
    const state = await roomState(ctx, room_id);
    ctx.rooms.toRoom(room_id, 'room_state', state);
    return { room_id, total_users: state.total_users };
  });

  ctx.handle('leave_room', async ({ room_id }, call) => {
    const rooms = joinedRooms(call.socket);
    if (!rooms.has(room_id)) throw new GatewayError(ErrorCodes.NOT_IN_ROOM, `Not in room ${room_id}`, { room_id });
    rooms.delete(room_id);
    call.socket.leave(clientRoom(room_id));
    await presence.leave(room_id, call.socket.id);
    await publishRoomState(ctx, room_id);
    return { room_id };
  });

  ctx.onDisconnect(async (socket) => {
    const rooms = socket.data.rooms;
    if (!rooms?.size) return;
    await Promise.all(
      [...rooms].map(async (roomId) => {
        await presence.leave(roomId, socket.id);
        await publishRoomState(ctx, roomId);
      }),
    );
  });

  let stopped = false;
  const beat = async () => {
    try {
      await presence.heartbeat();
      const changed = await presence.reap();
      if (changed.length) log.info('reaped presence of stopped pods', { rooms: changed.length });
      await Promise.all(changed.map((roomId) => publishRoomState(ctx, roomId)));
    } catch (err) {
      if (!stopped) log.warn('presence heartbeat failed', { error: String(err) });
    }
  };
  void beat();
  const timer = setInterval(beat, ctx.config.presence.heartbeatMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
};
