import { Router } from 'express';
import { AdminRequests } from '../cluster/control';
import { restErrors } from '../http/admin';
import { EventLoopWindow, podDetailedStats } from '../http/detailed-stats';
import { openApiRouter } from '../http/openapi';
import { operationsRouter } from '../http/operations';
import { publishRouter } from '../http/publish';
import { wsConfigRouter } from '../http/ws-config';
import type { Feature } from './context';

/**
 * Seed 002's admin REST API, cluster-wide, and the discovery routes (issue 10):
 * - publishing: `POST /api/v1/ws/rooms/{room_id}/broadcast`, `POST /api/v1/ws/users/{user_id}/notify`
 *   (server/http/publish.ts), delivered through the adapter to every pod;
 * - operations: `GET /api/v1/ws/stats/detailed`, `DELETE /api/v1/ws/connections/{connection_id}`,
 *   `POST /api/v1/ws/shutdown` (server/http/operations.ts);
 * - discovery: `GET /ws/config` (seed 001), `GET /api/v1/openapi.json` and the docs at
 *   `/api/v1/docs/` (server/http/ws-config.ts, server/http/openapi.ts).
 *
 * The admin routes take an admin JWT or ADMIN_API_KEY (`ctx.requireAdmin`); bodies are validated by
 * the zod schemas of shared/rest.ts, which the OpenAPI document is generated from. What a route
 * needs from other pods travels as one adapter request (server/cluster/control.ts AdminRequests):
 * a room's socket count, a connection to close, each pod's figures. This feature sends no socket
 * messages and handles none.
 */
export const registerAdminApi: Feature = (ctx) => {
  const podId = ctx.config.podId;
  const startedAt = Date.now();
  const eventLoop = new EventLoopWindow();
  const requests = new AdminRequests(
    ctx.io,
    ctx.control,
    ctx.clustered,
    {
      podId,
      detailedStats: () => podDetailedStats({ io: ctx.io, registry: ctx.metrics.registry, podId, startedAt, eventLoop }),
    },
    ctx.logger,
  );

  // One router of its own, so its error handler (body-parser failures → the REST error body) sees
  // only these routes' errors.
  const router = Router();
  router.use(
    publishRouter({
      io: ctx.io,
      requests,
      requireAdmin: ctx.requireAdmin,
      bodyMaxBytes: ctx.config.publishing.bodyMaxBytes,
      activity: ctx.activity,
      metrics: ctx.metrics,
    }),
  );
  router.use(operationsRouter({ podId, requests, requireAdmin: ctx.requireAdmin, shutdown: () => ctx.shutdown() }));
  router.use(wsConfigRouter(ctx.config));
  router.use(openApiRouter());
  router.use(restErrors);
  ctx.http.use(router);

  return () => {
    requests.dispose();
    eventLoop.stop();
  };
};
