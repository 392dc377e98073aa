import { createHash, timingSafeEqual } from 'node:crypto';
import express, { Router, type ErrorRequestHandler, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import { ErrorCodes, GatewayError, schemaRefusal } from '../../shared/errors';
import { UserIdParam } from '../../shared/rest';
import { userRoom } from '../../shared/rooms';
import { isAdmin } from '../auth/principal';
import { bearerToken } from '../auth/token';
import type { TokenVerifier } from '../auth/verify';
import type { ConnectionControl } from '../cluster/control';
import type { ClusterStats } from '../cluster/stats';
import type { CellStore } from '../cluster/cells';
import type { PresenceStore } from '../cluster/presence';
import { jsonDepthExceeds, MAX_FRAME_DEPTH } from '../compat/frames';
import { sendHttpError } from './errors';


/**
 * Validates a request part with its zod schema (shared/rest.ts). A failure is INVALID_MESSAGE
 * (400) with each issue's dot path, as the message pipeline reports a bad payload.
 */
export function parseWith<S extends z.ZodTypeAny>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw schemaRefusal(what, parsed.error.issues, '(body)');
}

/**
 * A REST route's JSON body: `Content-Type: application/json`, at most `limitBytes`
 * (ADMIN_BODY_MAX_BYTES, else 413 MESSAGE_TOO_LARGE), an object or array (else 400), nested at
 * most as deep as a native frame may be (socket.io's encoder walks payloads recursively; a route
 * whose schema bounds the depth itself, naming the item that is too deep, passes `checkDepth:
 * false`). Errors reach `restErrors`, which must follow the route in its router.
 */
export function jsonBody(limitBytes: number, options: { checkDepth?: boolean } = {}): RequestHandler[] {
  const checkDepth = options.checkDepth ?? true;
  const requireJson: RequestHandler = (req, _res, next) => {
    if (req.is('application/json') === false) next(new GatewayError(ErrorCodes.INVALID_MESSAGE, 'Content-Type must be application/json'));
    else next();
  };
  const parse = express.json({
    limit: limitBytes,
    strict: true,
    verify: (_req, _res, buf) => {
      if (checkDepth && jsonDepthExceeds(buf.toString('utf8'), MAX_FRAME_DEPTH)) {
        throw new GatewayError(ErrorCodes.INVALID_MESSAGE, `Body nested deeper than ${MAX_FRAME_DEPTH} levels`);
      }
    },
  });
  return [requireJson, parse];
}

/** body-parser's failure types and what they are in the gateway's error codes. */
const BODY_ERRORS: Readonly<Record<string, () => GatewayError>> = {
  'entity.too.large': () => new GatewayError(ErrorCodes.MESSAGE_TOO_LARGE, 'Body too large'),
  'entity.parse.failed': () => new GatewayError(ErrorCodes.INVALID_JSON, 'Body is not valid JSON'),
};

/**
 * The error handler of a REST router: GatewayErrors as they are, body-parser failures mapped
 * (too large 413, malformed 400), anything else INTERNAL_ERROR without its text.
 */
export const restErrors: ErrorRequestHandler = (err, _req, res, next) => {
  if (res.headersSent) return next(err);
  if (err instanceof GatewayError) return sendHttpError(res, err);
  const type = (err as { type?: unknown }).type;
  const status = Number((err as { status?: unknown }).status);
  const known = typeof type === 'string' ? BODY_ERRORS[type] : undefined;
  if (known) return sendHttpError(res, known());
  if (status >= 400 && status < 500) return sendHttpError(res, new GatewayError(ErrorCodes.INVALID_MESSAGE, 'Unreadable body'));
  sendHttpError(res, err);
};

/** Constant-time comparison of a presented key with the configured one (digests: equal lengths). */
function sameKey(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export type AdminGuard = (req: Request, res: Response, next: NextFunction) => void;

/**
 * The admin REST API's guard: a bearer token with role `admin`, or, for backends that mint no JWTs,
 * the service key ADMIN_API_KEY in `X-API-Key` (compared in constant time). Else 401/403.
 */
/**
 * The admin check of every admin surface: an API key must equal ADMIN_API_KEY (AUTHENTICATION_FAILED
 * otherwise); a token must verify and carry role admin (PERMISSION_DENIED without it). Throws.
 */
export function checkAdmin(verify: TokenVerifier, adminApiKey: string | undefined, credential: { apiKey?: string; token?: string }): void {
  if (credential.apiKey) {
    if (!adminApiKey || !sameKey(credential.apiKey, adminApiKey)) throw new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'Invalid API key');
    return;
  }
  const principal = verify(credential.token);
  if (!isAdmin(principal)) throw new GatewayError(ErrorCodes.PERMISSION_DENIED, 'Role admin required');
}

export function requireAdmin(verify: TokenVerifier, adminApiKey?: string): AdminGuard {
  return (req, res, next) => {
    try {
      const key = req.headers['x-api-key'];
      checkAdmin(verify, adminApiKey, typeof key === 'string' && key.length > 0 ? { apiKey: key } : { token: bearerToken(req.headers) });
      next();
    } catch (err) {
      sendHttpError(res, err);
    }
  };
}

export interface AdminDeps {
  requireAdmin: AdminGuard;
  stats: ClusterStats;
  presence: PresenceStore;
  cells: CellStore;
  control: ConnectionControl;
}

const HOUR_MS = 3_600_000;

/**
 * Seed 002's REST monitoring API, counted across every pod: `GET /api/v1/ws/stats` and
 * `GET /api/v1/ws/rooms`; and `DELETE /api/v1/ws/users/{user_id}/connections`, which closes
 * every connection of a user on every pod (AUTHENTICATION_FAILED "Token revoked", native 1008).
 * All need an admin token.
 */
export function adminRouter(deps: AdminDeps): Router {
  const router = Router();
  // The guard per route (not per path prefix): the admin API's other routes under these paths
  // (stats/detailed, users/{id}/notify) carry their own, and a request is verified once.
  router.delete('/api/v1/ws/users/:user_id/connections', deps.requireAdmin, (req, res) => {
    try {
      const { user_id } = parseWith(UserIdParam, req.params, 'user id');
      const closed = deps.control.closeRoom(userRoom(user_id), new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'Token revoked'));
      res.json({ user_id, closed_on_this_pod: closed, timestamp: new Date().toISOString() });
    } catch (err) {
      sendHttpError(res, err);
    }
  });

  router.get('/api/v1/ws/stats', deps.requireAdmin, async (_req, res) => {
    try {
      const [{ pods, partial }, rooms] = await Promise.all([deps.stats.collect(), deps.presence.rooms()]);
      const sum = (f: (p: (typeof pods)[number]) => number) => pods.reduce((n, p) => n + f(p), 0);
      res.json({
        total_connections: sum((p) => p.connections),
        authenticated_connections: sum((p) => p.authenticated),
        rooms_active: rooms.length,
        messages_per_second: Math.round(sum((p) => p.activity.messagesPerSecond) * 100) / 100,
        uptime_seconds: Math.round(pods[0].uptimeSeconds),
        pods: pods.length,
        partial,
      });
    } catch (err) {
      sendHttpError(res, err);
    }
  });

  router.get('/api/v1/ws/rooms', deps.requireAdmin, async (_req, res) => {
    try {
      const [{ pods }, rooms] = await Promise.all([deps.stats.collect(), deps.presence.rooms()]);
      const sheets = await Promise.all(rooms.map(({ room }) => deps.cells.activeSheets(room)));
      const now = Date.now();
      res.json(
        rooms.map(({ room, userCount }, i) => {
          const seen = pods.map((p) => p.activity.rooms[room]).filter((r) => r !== undefined);
          const firstSeen = Math.min(now, ...seen.map((r) => r.first_seen));
          const lastActivity = Math.max(0, ...seen.map((r) => r.last_activity));
          const joins = seen.reduce((n, r) => n + r.joins, 0);
          return {
            room_id: room,
            user_count: userCount,
            active_sheets_count: sheets[i].length,
            last_activity: lastActivity ? new Date(lastActivity).toISOString() : null,
            messages_sent: seen.reduce((n, r) => n + r.messages_sent, 0),
            // Joins per hour since the room was first seen, over at least one hour.
            avg_users_per_hour: Math.round((joins / Math.max(1, (now - firstSeen) / HOUR_MS)) * 10) / 10,
          };
        }),
      );
    } catch (err) {
      sendHttpError(res, err);
    }
  });
  return router;
}
