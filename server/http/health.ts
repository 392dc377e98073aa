import { Router } from 'express';

export interface HealthDeps {
  podId: string;
  startedAt: number;
  /** 'disabled' without REDIS_URL. */
  redisState: () => 'connected' | 'disconnected' | 'disabled';
  shuttingDown: () => boolean;
  connections: () => number;
}

/** Liveness, readiness and seed 002's `GET /api/v1/ws/health`. No token needed. */
export function healthRouter(deps: HealthDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'alive' });
  });
  router.get('/readyz', (_req, res) => {
    const redis = deps.redisState();
    const ready = !deps.shuttingDown() && redis !== 'disconnected';
    res.status(ready ? 200 : 503).json({ ready, redis, shutting_down: deps.shuttingDown() });
  });
  router.get('/api/v1/ws/health', (_req, res) => {
    const redis = deps.redisState();
    const healthy = redis !== 'disconnected' && !deps.shuttingDown();
    res.status(healthy ? 200 : 503).json({
      status: healthy ? 'healthy' : 'degraded',
      pod: deps.podId,
      redis,
      connections: deps.connections(),
      uptime_seconds: Math.round((Date.now() - deps.startedAt) / 1000),
      timestamp: new Date().toISOString(),
    });
  });
  return router;
}
