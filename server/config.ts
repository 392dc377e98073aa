import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { applyLegacyAliases } from './config-aliases';

/**
 * The gateway's configuration: read from the environment once, validated by zod, frozen. Nothing
 * else in the gateway reads `process.env`. Every variable is documented in README.md.
 */

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const commaList = z
  .string()
  .optional()
  .transform((v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean));

const EnvSchema = z.object({
  PORT: int(3000).pipe(z.number().max(65535)),
  HOST: z.string().min(1).default('0.0.0.0'),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
  REDIS_URL: optionalString.pipe(z.string().url().refine((u) => /^rediss?:/.test(u), 'must be redis:// or rediss://').optional()),
  // A Redis Cluster instead (README: Several pods with Redis): seed nodes, `host:port` or redis:// URLs.
  REDIS_CLUSTER_NODES: commaList,
  JWT_SECRET: optionalString.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  JWT_PUBLIC_KEY: optionalString
    .transform((v) => v?.replace(/\\n/g, '\n'))
    .pipe(z.string().includes('-----BEGIN', { message: 'must be a PEM public key' }).optional()),
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  ALLOWED_ORIGINS: commaList,
  POD_ID: optionalString,
  MAX_CONNECTIONS: int(0),
  MAX_MESSAGE_BYTES: int(65536, 256),
  PRESENCE_HEARTBEAT_MS: int(5000, 100),
  PRESENCE_TTL_MS: int(15000, 300),
  PING_INTERVAL_MS: int(25000, 100),
  PING_TIMEOUT_MS: int(20000, 100),
  SHUTDOWN_TIMEOUT_MS: int(10000, 100),
  DRAIN_MS: int(10000, 0),
  STATS_TIMEOUT_MS: int(2000, 50),
  AUTH_TIMEOUT_MS: int(30000, 100),
  NATIVE_HEARTBEAT_MS: int(30000, 100),
  ROOM_STATE_INTERVAL_MS: int(100, 0),
  PRESENCE_BROADCAST_MAX_USERS: int(100, 1),
  CURSOR_RATE: int(30, 1),
  CELL_MAX_BYTES: int(32768, 16),
  CHAT_HISTORY_CAP: int(1000, 1),
  STATE_TTL_SECONDS: int(7 * 24 * 3600, 60),
  // Protection (README: Rate limits and protection). 0 turns a limit off.
  WEBSOCKET_REQUESTS_PER_MINUTE: int(60),
  WEBSOCKET_REQUESTS_PER_HOUR: int(1000),
  WEBSOCKET_BLOCK_DURATION_MINUTES: int(15),
  CONNECTION_REQUESTS_PER_MINUTE: int(100),
  STREAM_MESSAGES_PER_SECOND: int(50),
  CONTROL_MESSAGES_PER_MINUTE: int(30),
  RATE_LIMIT_DISCONNECT_AFTER: int(100),
  MAX_IN_FLIGHT_PER_CONNECTION: int(32, 1),
  WEBSOCKET_MAX_CONNECTIONS_PER_USER: int(5),
  CONNECTIONS_PER_IP_PER_MINUTE: int(0),
  TRUST_PROXY: z.string().optional(),
  ROOM_BROADCASTS_PER_MINUTE: int(1000),
  MAX_BUFFERED_BYTES: int(1 << 20, 1024),
  SLOW_CONSUMER_MAX_BYTES: int(4 << 20, 1024),
  SLOW_CONSUMER_TIMEOUT_MS: int(10000, 100),
  TOKEN_EXPIRY_WARNING_MS: int(60000, 0),
  METRICS_TOKEN: optionalString.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  METRICS_PORT: int(0).pipe(z.number().max(65535)),
  // AI streaming and backend calls (README: AI streaming, Calling your backends).
  AI_UPSTREAM_URL: optionalString.pipe(z.string().url().refine((u) => /^https?:/.test(u), 'must be http:// or https://').optional()),
  AI_API_KEY: optionalString,
  AI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  AI_TIMEOUT_MS: int(120000, 100),
  AI_MAX_CONCURRENT_PER_USER: int(2, 1),
  AI_PROGRESS_INTERVAL_MS: int(50, 0),
  AI_SYSTEM_PROMPT: optionalString,
  CALCULATIONS_URL: optionalString.pipe(z.string().url().refine((u) => /^https?:/.test(u), 'must be http:// or https://').optional()),
  RPC_ROUTES: optionalString,
  RPC_TIMEOUT_MS: int(29000, 100),
  RPC_MAX_IN_FLIGHT_PER_CONNECTION: int(8, 1),
  // Publishing (README: Publishing from your backend).
  ADMIN_API_KEY: optionalString.pipe(z.string().min(24, 'must be at least 24 characters').optional()),
  ADMIN_BODY_MAX_BYTES: int(256 * 1024, 1024),
  SYSTEM_STATUS_INTERVAL_MS: int(10000, 0),
  STREAMS_CHANNEL: z.string().min(1).default('rg:streams'),
  NOTIFICATIONS_CAP: int(500, 1),
  // Uploads (README: Uploads).
  UPLOAD_DIR: z.string().min(1).default('uploads'),
  UPLOAD_MAX_BYTES: int(1024 ** 3, 1),
  UPLOAD_ALLOWED_TYPES: commaList,
  UPLOAD_EXPIRY_HOURS: z.coerce.number().positive().default(24),
  UPLOAD_MAX_IN_FLIGHT: int(5, 1),
  UPLOAD_PROGRESS_INTERVAL_MS: int(250, 10),
  UPLOAD_S3_BUCKET: optionalString,
  UPLOAD_S3_ENDPOINT: optionalString.pipe(z.string().url().refine((u) => /^https?:/.test(u), 'must be http:// or https://').optional()),
  UPLOAD_S3_REGION: optionalString,
  // Admin UI (README: Admin UI).
  ADMIN_UI_WRITE: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  // Room broadcasts written once per socket and tick (README: Performance); `false` keeps socket.io's own path.
  FAST_BROADCAST: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  // The demo page (README: Demo).
  DEMO_ENABLED: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
});

/** Event names Socket.IO or the native dialects keep for themselves: a client could never send them. */
const RESERVED_TYPES = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener', 'error', 'ping', 'pong', 'auth']);

/** RPC_ROUTES: a JSON object from message type to backend URL. */
const RpcRoutes = z.record(
  z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,63}$/, 'message types are lower_snake_case')
    .refine((t) => !RESERVED_TYPES.has(t), 'is reserved by Socket.IO or the native protocols'),
  z.string().url().refine((u) => /^https?:/.test(u), 'must be http:// or https://'),
);

/**
 * TRUST_PROXY: unset or `false` uses the peer address; `true` trusts every proxy (the left-most
 * X-Forwarded-For address); a number trusts that many hops; otherwise a comma list of addresses,
 * subnets or the names `loopback`, `linklocal`, `uniquelocal` (as Express and proxy-addr read it).
 */
export type TrustProxy = boolean | number | readonly string[];

function parseTrustProxy(value: string | undefined): TrustProxy {
  const v = (value ?? '').trim();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) return Number(v);
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

export type LogLevel = z.infer<typeof EnvSchema>['LOG_LEVEL'];

export interface JwtConfig {
  /** HMAC secret (HS256/384/512). Generated at start-up in development when no key is configured. */
  readonly secret?: string;
  /** PEM public key (RS*, PS* or ES* depending on its type). */
  readonly publicKey?: string;
  readonly issuer?: string;
  readonly audience?: string;
  /** True when `secret` was generated for development because no JWT setting was given. */
  readonly generated: boolean;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly env: 'development' | 'production' | 'test';
  readonly logLevel: LogLevel;
  /** Unset: one pod with the in-memory adapter and stores. */
  readonly redisUrl?: string;
  /** Seed nodes of a Redis Cluster (REDIS_CLUSTER_NODES, as redis:// URLs); set instead of redisUrl. */
  readonly redisCluster?: { readonly nodes: readonly string[] };
  readonly jwt: JwtConfig;
  /** Origins allowed to connect (`*` wildcards); empty allows every origin. */
  readonly allowedOrigins: readonly string[];
  /** Identifies this pod in cluster-wide presence; unique per process. */
  readonly podId: string;
  /** Most connections this pod accepts; 0 is unlimited. */
  readonly maxConnections: number;
  /** Largest message a client may send; larger ones get MESSAGE_TOO_LARGE. */
  readonly maxMessageBytes: number;
  readonly presence: { readonly heartbeatMs: number; readonly ttlMs: number };
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  /**
   * On a stop, the window over which the pod closes its connections, a slice every 100 ms (README:
   * Docker and Kubernetes); 0 closes them all at once.
   */
  readonly drainMs: number;
  /** How long the stats endpoints wait for the other pods' answers. */
  readonly statsTimeoutMs: number;
  /** Native endpoints with first-message auth (seeds 003, 004) close with 1008 after this long unauthenticated. */
  readonly authTimeoutMs: number;
  /** Interval of seed 001's JSON `heartbeat` on `/ws`. */
  readonly nativeHeartbeatMs: number;
  /** room_state goes out at most once per room per interval (the latest state always goes). */
  readonly roomStateIntervalMs: number;
  /** Above this many users a room is large: no join/leave broadcasts, room_state lists this many. */
  readonly presenceBroadcastMaxUsers: number;
  /** Cursor moves relayed per socket per second; the latest position always goes. */
  readonly cursorRate: number;
  /** Largest cell value plus formula, in bytes. */
  readonly cellMaxBytes: number;
  /** Chat messages kept per room. */
  readonly chatHistoryCap: number;
  /** How long Redis keeps cells, session versions and chat history after their last write. */
  readonly stateTtlSeconds: number;
  readonly limits: LimitsConfig;
  /** Unsent bytes above which a connection's volatile events are dropped; over `hardBytes`, or over `softBytes` for `timeoutMs`, it is disconnected. */
  readonly slowConsumers: { readonly softBytes: number; readonly hardBytes: number; readonly timeoutMs: number };
  /** A connection is warned (`token_expiring`) this long before its token expires. */
  readonly tokenExpiryWarningMs: number;
  /** GET /metrics: a bearer token it requires, and/or a separate port it is served on (0: the main port). */
  readonly metrics: { readonly token?: string; readonly port: number };
  readonly trustProxy: TrustProxy;
  readonly ai: AiConfig;
  readonly rpc: RpcConfig;
  readonly publishing: PublishingConfig;
  readonly uploads: UploadsConfig;
  /** The admin UI at /admin: read-only in production unless `write` (ADMIN_UI_WRITE). */
  readonly adminUi: { readonly write: boolean };
  /** The demo at /demo: always outside production; in production only when `enabled` (DEMO_ENABLED). */
  readonly demo: { readonly enabled: boolean };
  /** Room broadcasts batched per socket and tick and written straight to the WebSocket (server/fast-broadcast.ts). */
  readonly fastBroadcast: boolean;
}

/** Resumable uploads (tus 1.0 at /api/v1/uploads) and their live progress. */
export interface UploadsConfig {
  /** Absolute folder of the local disk store (UPLOAD_DIR, relative to the working directory); created at start-up. */
  readonly dir: string;
  /** Largest upload in bytes (413 above). */
  readonly maxBytes: number;
  /** MIME patterns (`image/*`, `text/csv`) an upload's type must match (415 otherwise); empty allows every type. */
  readonly allowedTypes: readonly string[];
  /** An upload not finished this long after its creation is refused (410) and removed. */
  readonly expiryMs: number;
  /** Uploads one user may have unfinished at once, across pods (429 above). */
  readonly maxInFlightPerUser: number;
  /** `file_upload_progress` goes out at most once per upload per interval (the last one always goes). */
  readonly progressIntervalMs: number;
  /** Set: uploads go to this S3-compatible bucket instead of `dir` (credentials: the AWS SDK's environment). */
  readonly s3?: { readonly bucket: string; readonly endpoint?: string; readonly region: string };
}

/** Server-side publishing: the admin REST API, stream items, notifications. */
export interface PublishingConfig {
  /** A service key backends send in `X-API-Key` instead of an admin JWT (compared in constant time). */
  readonly adminApiKey?: string;
  /** Largest JSON body the REST API accepts. */
  readonly bodyMaxBytes: number;
  /** How often the gateway publishes its pods' health as a `system_status` stream item (0: never). */
  readonly systemStatusIntervalMs: number;
  /** The Redis channel any client may PUBLISH stream items to (`{type, item | items}` JSON). */
  readonly streamsChannel: string;
  /** Notifications kept per user. */
  readonly notificationsCap: number;
}

/** The OpenAI-compatible Chat Completions upstream (unset url: AI requests get UPSTREAM_UNAVAILABLE). */
export interface AiConfig {
  /** Base URL, e.g. `http://localhost:11434/v1` (`/chat/completions` is appended). */
  readonly upstreamUrl?: string;
  /** Sent as `Authorization: Bearer`; never logged, never sent to clients. */
  readonly apiKey?: string;
  readonly model: string;
  /** A stream that has not finished after this long ends with an error. */
  readonly timeoutMs: number;
  readonly maxConcurrentPerUser: number;
  /** Deltas are coalesced to at most one event per stream per interval. */
  readonly progressIntervalMs: number;
  readonly systemPrompt?: string;
}

/** Backend calls: seed 000's calculations and the custom message routes. */
export interface RpcConfig {
  readonly calculationsUrl?: string;
  /** Message type → URL. */
  readonly routes: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly maxInFlightPerConnection: number;
}

/** Rate limits and caps; 0 turns one off. Which class each applies to is in README.md. */
export interface LimitsConfig {
  /** Request-class messages per user per minute, across pods (seed 002: 60). */
  readonly userRequestsPerMinute: number;
  /** Request-class messages per user per hour, across pods (seed 002: 1000). */
  readonly userRequestsPerHour: number;
  /** How long a user who went over the minute limit stays refused (seed 002: 15 minutes). */
  readonly blockDurationMs: number;
  /** Request-class messages per connection per minute (seed 004: 100). */
  readonly connectionRequestsPerMinute: number;
  /** Stream-class messages (cursors, typing) per connection per second; more are dropped, not refused. */
  readonly streamMessagesPerSecond: number;
  /** Control-class messages (token refresh) per connection per minute. */
  readonly controlMessagesPerMinute: number;
  /** Refusals within a minute after which a connection is closed (policy, 1008). */
  readonly disconnectAfterRefusals: number;
  /** Messages of one connection being handled at once; more are refused. */
  readonly maxInFlightPerConnection: number;
  /** Connections one user may hold across all pods (seed 001: 5). */
  readonly maxConnectionsPerUser: number;
  /** New connections per client IP per minute, across pods (seed 004: 10); 0 is off. */
  readonly connectionsPerIpPerMinute: number;
  /** Broadcasts into one client room per minute, across pods (seed 004: 1000). */
  readonly roomBroadcastsPerMinute: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Parses the environment into a frozen Config; throws one ConfigError naming every bad variable. */
export function loadConfig(rawEnv: NodeJS.ProcessEnv = process.env): Config {
  const { env, problems } = applyLegacyAliases(rawEnv);
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success || problems.length) {
    const issues = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError([...problems, ...issues]);
  }
  const e = parsed.data;
  const hasKey = Boolean(e.JWT_SECRET || e.JWT_PUBLIC_KEY);
  if (!hasKey && e.NODE_ENV === 'production') {
    problems.push('JWT_SECRET or JWT_PUBLIC_KEY: required when NODE_ENV=production');
  }
  if (e.SLOW_CONSUMER_MAX_BYTES < e.MAX_BUFFERED_BYTES) {
    problems.push('SLOW_CONSUMER_MAX_BYTES: must be at least MAX_BUFFERED_BYTES');
  }
  if (e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT) {
    problems.push('METRICS_PORT: must differ from PORT (unset it to serve /metrics on PORT)');
  }
  let routes: Record<string, string> = {};
  if (e.RPC_ROUTES) {
    let json: unknown;
    try {
      json = JSON.parse(e.RPC_ROUTES);
    } catch {
      problems.push('RPC_ROUTES: must be a JSON object of message type to URL');
    }
    if (json !== undefined) {
      const parsedRoutes = RpcRoutes.safeParse(json);
      if (parsedRoutes.success) routes = parsedRoutes.data;
      else problems.push(...parsedRoutes.error.issues.map((i) => `RPC_ROUTES${i.path.length ? `.${i.path.join('.')}` : ''}: ${i.message}`));
    }
  }
  const badType = e.UPLOAD_ALLOWED_TYPES.find((t) => !/^(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)\/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$/i.test(t));
  if (badType !== undefined) problems.push(`UPLOAD_ALLOWED_TYPES: "${badType}" is not a MIME type or pattern (type/subtype, type/*)`);
  if ((e.UPLOAD_S3_ENDPOINT || e.UPLOAD_S3_REGION) && !e.UPLOAD_S3_BUCKET) problems.push('UPLOAD_S3_BUCKET: required when UPLOAD_S3_ENDPOINT or UPLOAD_S3_REGION is set');
  // The stop's deadline is one timer of DRAIN_MS + SHUTDOWN_TIMEOUT_MS: above a timer's range it would fire at once.
  if (e.DRAIN_MS + e.SHUTDOWN_TIMEOUT_MS > 2_147_483_647) {
    problems.push('DRAIN_MS: DRAIN_MS + SHUTDOWN_TIMEOUT_MS must be at most 2147483647 ms');
  }
  const badSeed = e.REDIS_CLUSTER_NODES.find((n) => !/^(rediss?:\/\/([^@/]*@)?)?(\[[0-9a-f:.]+\]|[^:/@\s\[\]]+):\d{1,5}\/?$/i.test(n));
  if (badSeed !== undefined) problems.push(`REDIS_CLUSTER_NODES: "${badSeed}" is not host:port or a redis:// / rediss:// URL with a port`);
  if (e.REDIS_CLUSTER_NODES.length && e.REDIS_URL) problems.push('REDIS_CLUSTER_NODES: set either REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both');
  if (e.PRESENCE_TTL_MS <= e.PRESENCE_HEARTBEAT_MS) {
    problems.push('PRESENCE_TTL_MS: must be greater than PRESENCE_HEARTBEAT_MS');
  }
  if (problems.length) throw new ConfigError(problems);

  const config: Config = {
    port: e.PORT,
    host: e.HOST,
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    redisUrl: e.REDIS_URL,
    redisCluster: e.REDIS_CLUSTER_NODES.length
      ? { nodes: e.REDIS_CLUSTER_NODES.map((n) => (/^rediss?:\/\//i.test(n) ? n : `redis://${n}`)) }
      : undefined,
    jwt: {
      secret: e.JWT_SECRET ?? (hasKey ? undefined : randomBytes(32).toString('hex')),
      publicKey: e.JWT_PUBLIC_KEY,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      generated: !hasKey,
    },
    allowedOrigins: e.ALLOWED_ORIGINS,
    podId: e.POD_ID ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    maxConnections: e.MAX_CONNECTIONS,
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    presence: { heartbeatMs: e.PRESENCE_HEARTBEAT_MS, ttlMs: e.PRESENCE_TTL_MS },
    pingIntervalMs: e.PING_INTERVAL_MS,
    pingTimeoutMs: e.PING_TIMEOUT_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    drainMs: e.DRAIN_MS,
    statsTimeoutMs: e.STATS_TIMEOUT_MS,
    authTimeoutMs: e.AUTH_TIMEOUT_MS,
    nativeHeartbeatMs: e.NATIVE_HEARTBEAT_MS,
    roomStateIntervalMs: e.ROOM_STATE_INTERVAL_MS,
    presenceBroadcastMaxUsers: e.PRESENCE_BROADCAST_MAX_USERS,
    cursorRate: e.CURSOR_RATE,
    cellMaxBytes: e.CELL_MAX_BYTES,
    chatHistoryCap: e.CHAT_HISTORY_CAP,
    stateTtlSeconds: e.STATE_TTL_SECONDS,
    limits: {
      userRequestsPerMinute: e.WEBSOCKET_REQUESTS_PER_MINUTE,
      userRequestsPerHour: e.WEBSOCKET_REQUESTS_PER_HOUR,
      blockDurationMs: e.WEBSOCKET_BLOCK_DURATION_MINUTES * 60_000,
      connectionRequestsPerMinute: e.CONNECTION_REQUESTS_PER_MINUTE,
      streamMessagesPerSecond: e.STREAM_MESSAGES_PER_SECOND,
      controlMessagesPerMinute: e.CONTROL_MESSAGES_PER_MINUTE,
      disconnectAfterRefusals: e.RATE_LIMIT_DISCONNECT_AFTER,
      maxInFlightPerConnection: e.MAX_IN_FLIGHT_PER_CONNECTION,
      maxConnectionsPerUser: e.WEBSOCKET_MAX_CONNECTIONS_PER_USER,
      connectionsPerIpPerMinute: e.CONNECTIONS_PER_IP_PER_MINUTE,
      roomBroadcastsPerMinute: e.ROOM_BROADCASTS_PER_MINUTE,
    },
    slowConsumers: { softBytes: e.MAX_BUFFERED_BYTES, hardBytes: e.SLOW_CONSUMER_MAX_BYTES, timeoutMs: e.SLOW_CONSUMER_TIMEOUT_MS },
    tokenExpiryWarningMs: e.TOKEN_EXPIRY_WARNING_MS,
    metrics: { token: e.METRICS_TOKEN, port: e.METRICS_PORT },
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    ai: {
      upstreamUrl: e.AI_UPSTREAM_URL,
      apiKey: e.AI_API_KEY,
      model: e.AI_MODEL,
      timeoutMs: e.AI_TIMEOUT_MS,
      maxConcurrentPerUser: e.AI_MAX_CONCURRENT_PER_USER,
      progressIntervalMs: e.AI_PROGRESS_INTERVAL_MS,
      systemPrompt: e.AI_SYSTEM_PROMPT,
    },
    publishing: {
      adminApiKey: e.ADMIN_API_KEY,
      bodyMaxBytes: e.ADMIN_BODY_MAX_BYTES,
      systemStatusIntervalMs: e.SYSTEM_STATUS_INTERVAL_MS,
      streamsChannel: e.STREAMS_CHANNEL,
      notificationsCap: e.NOTIFICATIONS_CAP,
    },
    uploads: {
      dir: resolve(e.UPLOAD_DIR),
      maxBytes: e.UPLOAD_MAX_BYTES,
      allowedTypes: e.UPLOAD_ALLOWED_TYPES.map((t) => t.toLowerCase()),
      expiryMs: Math.round(e.UPLOAD_EXPIRY_HOURS * 3_600_000),
      maxInFlightPerUser: e.UPLOAD_MAX_IN_FLIGHT,
      progressIntervalMs: e.UPLOAD_PROGRESS_INTERVAL_MS,
      s3: e.UPLOAD_S3_BUCKET ? { bucket: e.UPLOAD_S3_BUCKET, endpoint: e.UPLOAD_S3_ENDPOINT, region: e.UPLOAD_S3_REGION ?? 'us-east-1' } : undefined,
    },
    adminUi: { write: e.ADMIN_UI_WRITE },
    demo: { enabled: e.DEMO_ENABLED },
    fastBroadcast: e.FAST_BROADCAST,
    rpc: {
      calculationsUrl: e.CALCULATIONS_URL,
      routes,
      timeoutMs: e.RPC_TIMEOUT_MS,
      maxInFlightPerConnection: e.RPC_MAX_IN_FLIGHT_PER_CONNECTION,
    },
  };
  return deepFreeze(config);
}
