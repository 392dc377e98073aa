import { namespacesOf, type ServerMessageType, type ServerPayload } from '../shared/catalogue';
import type { PodActivity } from './cluster/activity';
import type { GatewayServer, GatewaySocket } from './types';

/**
 * Room names. A client-chosen room id always lives under `room:`, so it can never name an internal
 * room (`user:<sub>` for one user's connections, `sheet:<id>`, ...).
 */
export const clientRoom = (roomId: string): string => `room:${roomId}`;
export const userRoom = (userId: string): string => `user:${userId}`;

export interface EmitOptions {
  /** Leave this socket out (the sender). */
  except?: GatewaySocket;
  /** May be dropped when a client's buffer is not drained (cursors). */
  volatile?: boolean;
}

/**
 * Emits a server event to internal room(s) in every namespace that serves the event (`/` and its
 * feature namespace), through the adapter: encoded once per namespace, delivered on every pod.
 */
export function emitTo<T extends ServerMessageType>(
  io: GatewayServer,
  room: string | string[],
  type: T,
  payload: ServerPayload<T>,
  options: EmitOptions = {},
): void {
  for (const ns of namespacesOf(type)) {
    let op = io.of(ns).to(room);
    if (options.except && options.except.nsp.name === ns) op = op.except(options.except.id);
    if (options.volatile) op = op.volatile;
    // The event maps are keyed by message type; the cast bridges TypeScript's generic spread limits.
    (op.emit as (ev: string, p: unknown) => boolean)(type, payload);
  }
}

/** The client-room broadcaster handed to features: counts room traffic for the stats endpoints. */
export class RoomBroadcaster {
  constructor(
    private readonly io: GatewayServer,
    private readonly activity: PodActivity,
  ) {}

  /** Emits to a client room (by its client id). */
  toRoom<T extends ServerMessageType>(roomId: string, type: T, payload: ServerPayload<T>, options?: EmitOptions): void {
    this.activity.roomMessage(roomId);
    emitTo(this.io, clientRoom(roomId), type, payload, options);
  }

  /** Emits once to everyone in any of the client rooms (a member of several gets it once). */
  toRooms<T extends ServerMessageType>(roomIds: readonly string[], type: T, payload: ServerPayload<T>, options?: EmitOptions): void {
    for (const roomId of roomIds) this.activity.roomMessage(roomId);
    emitTo(this.io, roomIds.map(clientRoom), type, payload, options);
  }

  /** Emits to an internal room (`session:<id>`, ...), on every pod. */
  toInternal<T extends ServerMessageType>(room: string, type: T, payload: ServerPayload<T>, options?: EmitOptions): void {
    emitTo(this.io, room, type, payload, options);
  }
}
