import { Router, type NextFunction, type Request, type Response } from 'express';
import { ErrorChannels, ErrorCodes, GatewayError, toGatewayError } from '../../shared/errors';
import { userRoom } from '../../shared/rooms';
import { isAdmin } from '../auth/principal';
import { bearerToken } from '../auth/token';
import type { TokenVerifier } from '../auth/verify';
import type { ConnectionControl } from '../cluster/control';
import type { ClusterStats } from '../cluster/stats';
import type { CellStore } from '../cluster/cells';
import type { PresenceStore } from '../cluster/presence';

export function sendHttpError(res: Response, err: unknown): void {
  const e = toGatewayError(err);
  res.status(ErrorChannels[e.code].http).json({ ...e.details, code: e.code, error: e.message, timestamp: new Date().toISOString() });
}

/** Bearer token with role `admin`, else 401/403. */
export function requireAdmin(verify: TokenVerifier) {
  return (req: Request, res: Response, next: NextFunction): void => {
    try {
      const principal = verify(bearerToken(req.headers));
      if (!isAdmin(principal)) throw new GatewayError(ErrorCodes.PERMISSION_DENIED, 'Role admin required');
      next();
    } catch (err) {
      sendHttpError(res, err);
    }
  };
}

export interface AdminDeps {
  verify: TokenVerifier;
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
  router.use('/api/v1/ws/stats', requireAdmin(deps.verify));
  router.use('/api/v1/ws/rooms', requireAdmin(deps.verify));
  router.use('/api/v1/ws/users', requireAdmin(deps.verify));

  router.delete('/api/v1/ws/users/:userId/connections', (req, res) => {
    const userId = req.params.userId;
    const closed = deps.control.closeRoom(userRoom(userId), new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'Token revoked'));
    res.json({ user_id: userId, closed_on_this_pod: closed, timestamp: new Date().toISOString() });
  });

  router.get('/api/v1/ws/stats', async (_req, res) => {
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

  router.get('/api/v1/ws/rooms', async (_req, res) => {
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
