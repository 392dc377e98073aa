import { Router } from 'express';
import { AllNamespaces } from '../../shared/namespaces';
import { PublishBody, RoomIdParam, UserIdParam, type BroadcastAnswer, type NotifyAnswer } from '../../shared/rest';
import { clientRoom, userRoom } from '../../shared/rooms';
import type { PodActivity } from '../cluster/activity';
import type { AdminRequests } from '../cluster/control';
import type { GatewayMetrics } from '../metrics';
import type { GatewayServer } from '../types';
import { jsonBody, parseWith, type AdminGuard } from './admin';
import { sendHttpError } from './errors';

export interface PublishDeps {
  readonly io: GatewayServer;
  readonly requests: AdminRequests;
  readonly requireAdmin: AdminGuard;
  readonly bodyMaxBytes: number;
  readonly activity: PodActivity;
  readonly metrics: GatewayMetrics;
}

/**
 * The `gateway_messages_sent_total` label of REST publishes: their event names are the caller's
 * choice, and a label must stay a bounded set.
 */
const SENT_LABEL = { room: 'rest_room_broadcast', user: 'rest_user_notify' } as const;

/**
 * Emits an event outside the catalogue to an internal room name in every namespace, through the
 * adapter: one encode and one publish per namespace, each pod delivering to its own members, each
 * client in its own wire format (a native connection's dialect frames it). Rooms are shared across
 * namespaces, so a member is reached whichever namespace it joined from.
 */
export function publishToRoom(io: GatewayServer, room: string, type: string, payload: Record<string, unknown>): void {
  for (const name of AllNamespaces) {
    const op = io.of(name).to(room);
    // The typed event maps know only the catalogue; a REST event's name is validated instead.
    (op.emit as unknown as (event: string, data: unknown) => boolean)(type, payload);
  }
}

/**
 * Seed 002's publishing routes, for backends and operators (admin JWT or ADMIN_API_KEY):
 * - `POST /api/v1/ws/rooms/{room_id}/broadcast`: event `type` to every member of client room
 *   `room:<room_id>` on every pod;
 * - `POST /api/v1/ws/users/{user_id}/notify`: event `type` to every socket of the user (`user:<id>`).
 * The body is any JSON object with a lower_snake_case `type`; the other fields are the payload.
 * An unknown room or user is not an error: the answer reports 0 recipients.
 */
export function publishRouter(deps: PublishDeps): Router {
  const router = Router();
  const parseBody = jsonBody(deps.bodyMaxBytes);
  const deliver = async (room: string, body: unknown, label: string) => {
    const { type, ...payload } = parseWith(PublishBody, body, 'body');
    // The count goes out with the event (one round trip); a member joining in between may be
    // reached without being counted, never the other way round.
    const counted = deps.requests.countRoom(room);
    publishToRoom(deps.io, room, type, payload);
    deps.metrics.messagesSent(label);
    const { sockets, partial } = await counted;
    return { type, recipients: sockets, partial, delivered_at: new Date().toISOString() };
  };

  router.post('/api/v1/ws/rooms/:room_id/broadcast', deps.requireAdmin, ...parseBody, async (req, res) => {
    try {
      const { room_id } = parseWith(RoomIdParam, req.params, 'room id');
      const delivered = await deliver(clientRoom(room_id), req.body, SENT_LABEL.room);
      // Counted in the room's activity (GET /api/v1/ws/rooms) when it has members: a backend
      // publishing to rooms nobody joined must not fill the pod's bounded activity table.
      if (delivered.recipients > 0) deps.activity.roomMessage(room_id);
      const answer: BroadcastAnswer = { room_id, ...delivered };
      res.json(answer);
    } catch (err) {
      sendHttpError(res, err);
    }
  });

  router.post('/api/v1/ws/users/:user_id/notify', deps.requireAdmin, ...parseBody, async (req, res) => {
    try {
      const { user_id } = parseWith(UserIdParam, req.params, 'user id');
      const answer: NotifyAnswer = { user_id, ...(await deliver(userRoom(user_id), req.body, SENT_LABEL.user)) };
      res.json(answer);
    } catch (err) {
      sendHttpError(res, err);
    }
  });
  return router;
}
