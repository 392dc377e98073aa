import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { Router, type Request } from 'express';
import { ErrorCodes, GatewayError } from '../../shared/errors';
import type { GatewayMetrics } from '../metrics';
import { sendHttpError } from './errors';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Whether the request carries `Authorization: Bearer <token>`. Both sides are hashed first so the
 * comparison is constant-time and over equal lengths: neither the token's characters nor its
 * length leak through timing.
 */
function hasBearer(req: Request, expected: Buffer): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match !== null && timingSafeEqual(digest(match[1]), expected);
}

/**
 * `GET /metrics` in Prometheus text format. With `token` the request needs
 * `Authorization: Bearer <token>` (else 401 `AUTHENTICATION_FAILED`); with `enabled` false the
 * route answers 404, as if it did not exist.
 *
 * The rule the gateway applies (server/gateway.ts), because metrics reveal load and traffic shape:
 * - `METRICS_PORT` set: /metrics is served on that port only (a port reachable on the cluster
 *   network alone, see `startMetricsServer`), with the token required there too if
 *   `METRICS_TOKEN` is set; the main port answers 404.
 * - `METRICS_PORT` unset and `METRICS_TOKEN` set: served on the main port, token required.
 * - Neither: served on the main port without a token only when NODE_ENV is not `production`
 *   (development and tests); in production it answers 404.
 */
export function metricsRouter(metrics: GatewayMetrics, options: { token?: string; enabled: boolean }): Router {
  const router = Router();
  const expected = options.token ? digest(options.token) : undefined;
  router.get('/metrics', async (req, res) => {
    if (!options.enabled) {
      res.status(404).type('text/plain').send('Not Found');
      return;
    }
    if (expected && !hasBearer(req, expected)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      sendHttpError(res, new GatewayError(ErrorCodes.AUTHENTICATION_FAILED, 'A valid bearer token is required for /metrics'));
      return;
    }
    try {
      const { contentType, body } = await metrics.scrape();
      res.setHeader('Cache-Control', 'no-store');
      res.type(contentType).send(body);
    } catch {
      sendHttpError(res, new GatewayError(ErrorCodes.INTERNAL_ERROR, 'Metrics collection failed'));
    }
  });
  return router;
}

/**
 * Serves /metrics on a port of its own (`METRICS_PORT`), so the main port, exposed to clients,
 * never serves it while Prometheus reaches it on the cluster network. Port 0 binds a free port
 * (tests). `close()` also ends idle keep-alive connections a scraper holds open.
 */
export async function startMetricsServer(
  metrics: GatewayMetrics,
  options: { port: number; host: string; token?: string },
): Promise<{ port: number; close(): Promise<void> }> {
  const app = express();
  app.disable('x-powered-by');
  app.use(metricsRouter(metrics, { token: options.token, enabled: true }));
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
