import { GatewayError } from './errors';

/**
 * The rooms a client is in, as far as it knows: join_room and leave_room it sent. After a
 * reconnection (a new socket on another pod knows none of them) the client joins them again
 * before it flushes its queue; the gateway serves a socket's messages in order and records a
 * join before anything else runs, so queued room messages find the room joined.
 */
export class RoomMemory {
  private readonly rooms = new Set<string>();

  /** Notes an outgoing message that changes membership. */
  sent(type: string, payload: unknown): void {
    const roomId = roomOf(payload);
    if (roomId === undefined) return;
    if (type === 'join_room') this.rooms.add(roomId);
    else if (type === 'leave_room') this.rooms.delete(roomId);
  }

  /** A join request the gateway refuses is not a room to rejoin. */
  watch(type: string, payload: unknown, answer: Promise<unknown>): void {
    const roomId = roomOf(payload);
    if (type !== 'join_room' || roomId === undefined) return;
    answer.catch((err: unknown) => {
      if (err instanceof GatewayError) this.rooms.delete(roomId);
    });
  }

  /** An `error` event refusing a join_room sent without an ack (its details name the room). */
  refusedBy(error: { readonly details: Readonly<Record<string, unknown>> }): void {
    const { message_type, room_id } = error.details;
    if (message_type === 'join_room' && typeof room_id === 'string') this.rooms.delete(room_id);
  }

  list(): string[] {
    return [...this.rooms];
  }
}

function roomOf(payload: unknown): string | undefined {
  const roomId = typeof payload === 'object' && payload !== null ? (payload as { room_id?: unknown }).room_id : undefined;
  return typeof roomId === 'string' ? roomId : undefined;
}
