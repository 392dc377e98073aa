import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';

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
  STATS_TIMEOUT_MS: int(2000, 50),
  AUTH_TIMEOUT_MS: int(30000, 100),
  NATIVE_HEARTBEAT_MS: int(30000, 100),
  ROOM_STATE_INTERVAL_MS: int(100, 0),
  PRESENCE_BROADCAST_MAX_USERS: int(100, 1),
  CURSOR_RATE: int(30, 1),
  CELL_MAX_BYTES: int(32768, 16),
  CHAT_HISTORY_CAP: int(1000, 1),
  STATE_TTL_SECONDS: int(7 * 24 * 3600, 60),
});

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
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  const hasKey = Boolean(e.JWT_SECRET || e.JWT_PUBLIC_KEY);
  if (!hasKey && e.NODE_ENV === 'production') {
    problems.push('JWT_SECRET or JWT_PUBLIC_KEY: required when NODE_ENV=production');
  }
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
    statsTimeoutMs: e.STATS_TIMEOUT_MS,
    authTimeoutMs: e.AUTH_TIMEOUT_MS,
    nativeHeartbeatMs: e.NATIVE_HEARTBEAT_MS,
    roomStateIntervalMs: e.ROOM_STATE_INTERVAL_MS,
    presenceBroadcastMaxUsers: e.PRESENCE_BROADCAST_MAX_USERS,
    cursorRate: e.CURSOR_RATE,
    cellMaxBytes: e.CELL_MAX_BYTES,
    chatHistoryCap: e.CHAT_HISTORY_CAP,
    stateTtlSeconds: e.STATE_TTL_SECONDS,
  };
  return deepFreeze(config);
}
