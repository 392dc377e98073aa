import { z } from 'zod';
import { ErrorCodes } from './errors';
import { RoomId } from './messages/define';

/**
 * The REST API's bodies and answers, as zod schemas: the server validates with them and the
 * OpenAPI document (`GET /api/v1/openapi.json`) is generated from them, so the two cannot drift.
 * Plain zod only (no OpenAPI extension here): clients and backends may import these too.
 */

/**
 * Event names a REST publish may not use: Socket.IO's own (a client could never tell them from the
 * library's events), `error` (clients read it as the gateway refusing something), and the native
 * protocols' `ping`, `pong` and `auth` frames.
 */
export const RESERVED_EVENT_NAMES: readonly string[] = [
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
  'error',
  'ping',
  'pong',
  'auth',
];

/** A published event's name: lower_snake_case, as every event of the catalogue and the seeds. */
export const EventType = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be a lower_snake_case event name (a-z, 0-9, _, at most 64 characters)')
  .refine((type) => !RESERVED_EVENT_NAMES.includes(type), { message: 'is reserved by Socket.IO or the native protocols' })
  .describe('The event name clients receive (seed 002: the message `type`).');

/**
 * Seed 002's broadcast and notify body: any JSON object with a `type`. Clients receive event
 * `type` with the other fields as its payload (native seed 002 clients get the body as sent).
 */
export const PublishBody = z
  .object({ type: EventType })
  .passthrough()
  .describe('Any JSON object with a `type`; the other fields are the event payload.');
export type PublishBody = z.infer<typeof PublishBody>;

export const RoomIdParam = z.object({ room_id: RoomId.describe('The client room id (as in join_room).') });
export const UserIdParam = z.object({ user_id: z.string().min(1).max(256).describe("The user's `sub` claim.") });
/**
 * An Engine.IO connection id (a native connection's too) or a Socket.IO socket id: base64url
 * characters, and `/` and `#` for a legacy (v2) client's namespace socket (`/chat#<id>`).
 */
export const ConnectionIdParam = z.object({
  connection_id: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9_\-/#]+$/, 'must be a connection or socket id')
    .describe('Engine.IO connection id, or the id of one of its Socket.IO sockets.'),
});

/** How many sockets an event reached: one per socket (a client on two namespaces receives it on each). */
const Recipients = z.number().int().min(0).describe('Sockets in the room on every pod that answered (a client on two namespaces counts twice: it receives the event on each).');
const Partial = z.boolean().describe('True when a pod did not answer the count in time (the event still went to every pod).');

export const BroadcastAnswer = z.object({
  room_id: z.string(),
  type: z.string(),
  recipients: Recipients,
  partial: Partial,
  delivered_at: z.string().describe('ISO 8601 time the event was published to every pod.'),
});
export type BroadcastAnswer = z.infer<typeof BroadcastAnswer>;

export const NotifyAnswer = z.object({
  user_id: z.string(),
  type: z.string(),
  recipients: Recipients,
  partial: Partial,
  delivered_at: z.string(),
});
export type NotifyAnswer = z.infer<typeof NotifyAnswer>;

const Counts = z.record(z.number().int().min(0));

/** One pod's figures for `GET /api/v1/ws/stats/detailed`. */
export const PodDetailedStats = z.object({
  pod: z.string(),
  uptime_seconds: z.number(),
  connections: z.object({
    total: z.number().int(),
    by_transport: Counts.describe('Per transport label, as gateway_connections: eio3 (Socket.IO v2), eio4 (v3/v4), native:<endpoint>.'),
    by_dialect: Counts.describe('Per dialect: `socket.io`, or the native endpoint path.'),
  }),
  sockets_by_namespace: Counts,
  rooms: z.number().int().describe('Client rooms with a member on this pod.'),
  messages: z.object({
    received: Counts.describe('Messages received, by type (`unknown` for a type the namespace does not serve).'),
    sent: Counts.describe('Events sent, by type (a broadcast counts once).'),
    dropped: Counts.describe('Stream messages dropped silently (throttled), by type.'),
  }),
  errors: Counts.describe('Errors sent to clients, by code.'),
  rate_limited: z.object({
    total: z.number().int(),
    by_class_and_scope: Counts.describe('Refusals by `<rate class>:<scope>` (request:user, request:connection, request:room, ...).'),
  }),
  event_loop_delay_ms: z.object({
    mean: z.number(),
    p50: z.number(),
    p99: z.number(),
    max: z.number(),
    window_seconds: z.number().describe('The span these figures cover: the last full minute, or the time since start-up within the first.'),
  }),
  memory_rss_bytes: z.number().int(),
});
export type PodDetailedStats = z.infer<typeof PodDetailedStats>;

export const DetailedStatsAnswer = z.object({
  pods: z.array(PodDetailedStats).describe('The receiving pod first.'),
  partial: z.boolean().describe('True when a pod did not answer within STATS_TIMEOUT_MS.'),
  timestamp: z.string(),
});
export type DetailedStatsAnswer = z.infer<typeof DetailedStatsAnswer>;

export const CloseConnectionAnswer = z.object({
  connection_id: z.string(),
  pod: z.string().describe('The pod that held and closed the connection.'),
});
export type CloseConnectionAnswer = z.infer<typeof CloseConnectionAnswer>;

export const ShutdownAnswer = z.object({ pod: z.string().describe('The pod that stops (only this one).'), draining: z.literal(true) });
export type ShutdownAnswer = z.infer<typeof ShutdownAnswer>;

/** Seed 001's service discovery (`GET /ws/config`), with this gateway's real limits. */
export const WsConfigAnswer = z.object({
  websocket_config: z.object({
    version: z.string(),
    features: z.object({
      json_first: z.boolean(),
      auth_required: z.boolean(),
      heartbeat_supported: z.boolean(),
      reconnection_supported: z.boolean(),
    }),
    endpoints: z.record(z.string()).describe('`websocket` is seed 001\'s `/ws`; the others are every native endpoint and the Socket.IO path.'),
    connection_limits: z.object({
      max_connections_per_user: z.number().int().nullable().describe('Across pods; null: no limit.'),
      max_message_rate: z.number().int().nullable().describe('Request messages per user per minute, across pods; null: no limit.'),
      heartbeat_interval: z.number().int().describe('Milliseconds between `/ws` heartbeat frames.'),
      max_message_size: z.number().int().describe('Largest message in bytes.'),
    }),
  }),
});
export type WsConfigAnswer = z.infer<typeof WsConfigAnswer>;

/** Every error answer of the REST API. */
export const HttpErrorBody = z
  .object({
    code: z.enum(Object.values(ErrorCodes) as [string, ...string[]]),
    error: z.string(),
    timestamp: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional().describe('INVALID_MESSAGE: each bad field (dot path, empty for the body itself).'),
  })
  .passthrough();

/** The existing monitoring routes' answers (server/http/admin.ts, server/http/health.ts). */
export const StatsAnswer = z.object({
  total_connections: z.number().int(),
  authenticated_connections: z.number().int(),
  rooms_active: z.number().int(),
  messages_per_second: z.number(),
  uptime_seconds: z.number(),
  pods: z.number().int(),
  partial: z.boolean(),
});

export const RoomsAnswer = z.array(
  z.object({
    room_id: z.string(),
    user_count: z.number().int(),
    active_sheets_count: z.number().int(),
    last_activity: z.string().nullable(),
    messages_sent: z.number().int(),
    avg_users_per_hour: z.number(),
  }),
);

export const RevokeAnswer = z.object({ user_id: z.string(), closed_on_this_pod: z.number().int(), timestamp: z.string() });

export const HealthAnswer = z.object({
  status: z.enum(['healthy', 'degraded']),
  pod: z.string(),
  redis: z.enum(['connected', 'disconnected', 'disabled']),
  connections: z.number().int(),
  uptime_seconds: z.number(),
  timestamp: z.string(),
});
export const ReadyAnswer = z.object({ ready: z.boolean(), redis: z.enum(['connected', 'disconnected', 'disabled']), shutting_down: z.boolean() });
export const AliveAnswer = z.object({ status: z.literal('alive') });
