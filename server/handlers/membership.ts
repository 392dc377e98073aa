import { ErrorCodes, GatewayError } from '../../shared/errors';
import type { GatewaySocket } from '../types';

/** The client rooms a socket is in (created on first join). */
export function joinedRooms(socket: GatewaySocket): Set<string> {
  return (socket.data.rooms ??= new Set());
}

/** Throws NOT_IN_ROOM unless the socket joined `roomId`. */
export function requireMember(socket: GatewaySocket, roomId: string): string {
  if (!socket.data.rooms?.has(roomId)) {
    throw new GatewayError(ErrorCodes.NOT_IN_ROOM, `Not in room ${roomId}`, { room_id: roomId });
  }
  return roomId;
}

/**
 * The room a message is about: the one it names (which the socket must have joined), or, when it
 * names none, the socket's only room (native seed 004 clients are in exactly one).
 */
export function targetRoom(socket: GatewaySocket, roomId: string | undefined): string {
  if (roomId !== undefined) return requireMember(socket, roomId);
  const rooms = socket.data.rooms;
  if (!rooms?.size) throw new GatewayError(ErrorCodes.NOT_IN_ROOM, 'Join a room first');
  if (rooms.size > 1) {
    throw new GatewayError(ErrorCodes.INVALID_MESSAGE, 'room_id is required when in several rooms', {
      issues: [{ path: 'room_id', message: 'Required' }],
    });
  }
  return rooms.values().next().value as string;
}
