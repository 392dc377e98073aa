import { namespacesOf, type ServerMessageType, type ServerPayload } from '../shared/catalogue';
import { ErrorCodes, GatewayError } from '../shared/errors';
import { clientRoom } from '../shared/rooms';
import type { PodActivity } from './cluster/activity';
import type { Limits } from './cluster/limits';
import type { GatewayMetrics } from './metrics';
import type { GatewayServer, GatewaySocket } from './types';

export { clientRoom, userRoom } from '../shared/rooms';

export interface EmitOptions {
  /** Leave this socket out (the sender). */
  except?: GatewaySocket;
  /** May be dropped when a client's buffer is not drained (cursors). */
  volatile?: boolean;
}

/** Whether any of the rooms has a member in this pod's namespace (only meaningful on one pod). */
function hasLocalMembers(io: GatewayServer, ns: string, room: string | string[]): boolean {
  const rooms = io._nsps.get(ns)?.adapter.rooms;
  if (!rooms) return false;
  return typeof room === 'string' ? (rooms.get(room)?.size ?? 0) > 0 : room.some((r) => (rooms.get(r)?.size ?? 0) > 0);
}

/**
 * Emits a server event to internal room(s) in every namespace that serves the event (`/` and its
 * feature namespace), through the adapter: encoded once per namespace, delivered on every pod.
 * With `localOnly` (one pod, no Redis) a namespace where the room has no member is skipped: the
 * adapter encodes before it looks for recipients, so an emit to nobody is not free.
 */
export function emitTo<T extends ServerMessageType>(
  io: GatewayServer,
  room: string | string[],
  type: T,
  payload: ServerPayload<T>,
  options: EmitOptions = {},
  localOnly = false,
): void {
  for (const ns of namespacesOf(type)) {
    if (localOnly && !hasLocalMembers(io, ns, room)) continue;
    let op = io.of(ns).to(room);
    if (options.except && options.except.nsp.name === ns) op = op.except(options.except.id);
    if (options.volatile) op = op.volatile;
    // The event maps are keyed by message type; the cast bridges TypeScript's generic spread limits.
    (op.emit as (ev: string, p: unknown) => boolean)(type, payload);
  }
}

/**
 * The broadcaster handed to features: every emit into a room goes through it, so room traffic is
 * counted (stats endpoints, `gateway_messages_sent_total`) and the per-room broadcast budget
 * (ROOM_BROADCASTS_PER_MINUTE, across pods) has one place to live.
 */
export class RoomBroadcaster {
  constructor(
    private readonly io: GatewayServer,
    private readonly activity: PodActivity,
    private readonly limits: Limits,
    private readonly metrics: GatewayMetrics,
    /** Whether other pods share the adapter: then every namespace's emit must travel to them. */
    private readonly clustered: boolean,
  ) {}

  /**
   * Takes one broadcast from each room's budget before a client's message is delivered there
   * (chat messages, cell updates, status changes; not cursors and typing, which are throttled per
   * connection, nor the gateway's own presence pushes). Over budget: RATE_LIMIT_EXCEEDED with
   * `retry_after_ms`, and nothing was delivered.
   */
  async reserve(roomIds: readonly string[]): Promise<void> {
    const decisions = await Promise.all(roomIds.map((roomId) => this.limits.roomBroadcast(roomId)));
    const refused = decisions.findIndex((d) => !d.allowed);
    if (refused === -1) return;
    this.metrics.rateLimited('request', 'room');
    throw new GatewayError(ErrorCodes.RATE_LIMIT_EXCEEDED, `Rate limit exceeded: too many broadcasts in room ${roomIds[refused]}`, {
      retry_after_ms: decisions[refused].retryAfterMs,
      room_id: roomIds[refused],
      scope: 'room',
    });
  }

  /** Emits to a client room (by its client id). */
  toRoom<T extends ServerMessageType>(roomId: string, type: T, payload: ServerPayload<T>, options?: EmitOptions): void {
    this.activity.roomMessage(roomId);
    this.metrics.messagesSent(type);
    emitTo(this.io, clientRoom(roomId), type, payload, options, !this.clustered);
  }

  /** Emits once to everyone in any of the client rooms (a member of several gets it once). */
  toRooms<T extends ServerMessageType>(roomIds: readonly string[], type: T, payload: ServerPayload<T>, options?: EmitOptions): void {
    for (const roomId of roomIds) this.activity.roomMessage(roomId);
    this.metrics.messagesSent(type);
    emitTo(this.io, roomIds.map(clientRoom), type, payload, options, !this.clustered);
  }

  /** Emits to an internal room (`session:<id>`, `user:<sub>`, ...), on every pod. */
  toInternal<T extends ServerMessageType>(room: string, type: T, payload: ServerPayload<T>, options?: EmitOptions): void {
    this.metrics.messagesSent(type);
    emitTo(this.io, room, type, payload, options, !this.clustered);
  }
}
