import { Router } from 'express';
import { ErrorCodes, GatewayError } from '../../shared/errors';
import { ConnectionIdParam, type CloseConnectionAnswer, type DetailedStatsAnswer, type ShutdownAnswer } from '../../shared/rest';
import type { AdminRequests } from '../cluster/control';
import { parseWith, type AdminGuard } from './admin';
import { sendHttpError } from './errors';

export interface OperationsDeps {
  readonly podId: string;
  readonly requests: AdminRequests;
  readonly requireAdmin: AdminGuard;
  /** Starts this pod's graceful stop (as SIGTERM does). */
  readonly shutdown: () => void;
}

/** What a client closed by an administrator is told (native clients then get close 1008). */
const CLOSED_BY_ADMIN = 'Closed by an administrator';

/**
 * Seed 002's monitoring and connection management (admin JWT or ADMIN_API_KEY):
 * - `GET /api/v1/ws/stats/detailed`: every pod's figures (connections by transport and dialect,
 *   rooms, messages per type, errors per code, rate-limit refusals, event-loop delay), this pod's
 *   first; `partial` when a pod did not answer within STATS_TIMEOUT_MS;
 * - `DELETE /api/v1/ws/connections/{connection_id}`: closes the connection on whichever pod holds
 *   it (PERMISSION_DENIED "Closed by an administrator", native close 1008); 404 when none does,
 *   503 when it was not found but a pod did not answer;
 * - `POST /api/v1/ws/shutdown`: 202, then this pod (only) drains and stops; the process exits.
 */
export function operationsRouter(deps: OperationsDeps): Router {
  const router = Router();

  router.get('/api/v1/ws/stats/detailed', deps.requireAdmin, async (_req, res) => {
    try {
      const { answers, partial } = await deps.requests.detailedStats();
      const answer: DetailedStatsAnswer = { pods: answers, partial, timestamp: new Date().toISOString() };
      res.json(answer);
    } catch (err) {
      sendHttpError(res, err);
    }
  });

  router.delete('/api/v1/ws/connections/:connection_id', deps.requireAdmin, async (req, res) => {
    try {
      const { connection_id } = parseWith(ConnectionIdParam, req.params, 'connection id');
      const { pod, partial } = await deps.requests.closeConnection(connection_id, new GatewayError(ErrorCodes.PERMISSION_DENIED, CLOSED_BY_ADMIN));
      if (pod === undefined && partial) {
        // A pod that did not answer may hold it: "not found" would be a guess.
        throw new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, `Connection ${connection_id} not found on the pods that answered within STATS_TIMEOUT_MS`, { connection_id });
      }
      // The closed set of codes has no generic "not found": ROOM_NOT_FOUND is the one whose HTTP
      // status is 404, and `connection_id` says what was not found.
      if (pod === undefined) throw new GatewayError(ErrorCodes.ROOM_NOT_FOUND, `No pod holds connection ${connection_id}`, { connection_id });
      const answer: CloseConnectionAnswer = { connection_id, pod };
      res.json(answer);
    } catch (err) {
      sendHttpError(res, err);
    }
  });

  router.post('/api/v1/ws/shutdown', deps.requireAdmin, (_req, res) => {
    // The answer goes out first; the stop then closes the HTTP server, so this connection must not linger.
    res.once('close', deps.shutdown);
    const answer: ShutdownAnswer = { pod: deps.podId, draining: true };
    res.status(202).set('Connection', 'close').json(answer);
  });
  return router;
}
