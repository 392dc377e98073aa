import { dirname } from 'node:path';
import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import express, { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import * as rest from '../../shared/rest';
import { describeNotificationRoutes } from './notifications';
import { describeStreamRoutes } from './streams';
import { describeUploadRoutes } from './uploads';

/** The security scheme names of the document: the admin API accepts either of the first two. */
export const SECURITY_SCHEMES = { bearer: 'bearerAuth', apiKey: 'apiKey', metrics: 'metricsToken' } as const;
/** An admin route's `security`: an admin JWT or ADMIN_API_KEY (either suffices). */
export const ADMIN_SECURITY: RouteConfig['security'] = [{ [SECURITY_SCHEMES.bearer]: [] }, { [SECURITY_SCHEMES.apiKey]: [] }];

/** A route group's description of itself (other modules' route files export one each). */
export type DescribeRoutes = (registry: OpenAPIRegistry) => void;

/** The other modules' admin route groups (streams, notifications) described in the document. */
export const ADMIN_ROUTE_GROUPS: readonly DescribeRoutes[] = [describeStreamRoutes, describeNotificationRoutes, describeUploadRoutes];

/**
 * The registry handed to the other admin route groups: a route that names no `security` gets the
 * admin API's (an admin JWT or ADMIN_API_KEY), so every guarded route says so in the document.
 */
class AdminRouteRegistry extends OpenAPIRegistry {
  override registerPath(route: RouteConfig): void {
    super.registerPath({ security: ADMIN_SECURITY, ...route });
  }
}

const json = (schema: z.ZodTypeAny) => ({ 'application/json': { schema } });

/** The REST error answer, for each status a route can give. */
export function errorResponses(registry: OpenAPIRegistry, statuses: readonly number[]): Record<string, ResponseConfig> {
  const body = registry.register('Error', rest.HttpErrorBody);
  const what: Record<number, string> = {
    400: 'INVALID_MESSAGE (with `issues`) or INVALID_JSON',
    401: 'AUTHENTICATION_FAILED: no or bad admin JWT, or a wrong X-API-Key',
    403: 'PERMISSION_DENIED: the JWT has no `admin` role',
    404: 'ROOM_NOT_FOUND: not found (for a connection: no pod holds it, and `connection_id` says so)',
    413: 'MESSAGE_TOO_LARGE: body over ADMIN_BODY_MAX_BYTES',
    500: 'INTERNAL_ERROR',
    503: 'UPSTREAM_UNAVAILABLE: a pod did not answer in time',
  };
  return Object.fromEntries(statuses.map((status) => [String(status), { description: what[status] ?? 'Error', content: json(body) }]));
}

const ADMIN_ERRORS = [401, 403, 500] as const;

/** The routes of this gateway's own modules (health, metrics, admin, publishing, discovery, docs). */
export function describeGatewayRoutes(registry: OpenAPIRegistry): void {
  const ok = (description: string, schema: z.ZodTypeAny): Record<string, ResponseConfig> => ({ 200: { description, content: json(schema) } });
  const admin = (route: Omit<RouteConfig, 'security' | 'tags'> & { errors?: readonly number[] }) => {
    const { errors = [], ...config } = route;
    registry.registerPath({ ...config, tags: ['admin'], security: ADMIN_SECURITY, responses: { ...route.responses, ...errorResponses(registry, [...errors, ...ADMIN_ERRORS]) } });
  };
  const publish = registry.register('PublishBody', rest.PublishBody);

  registry.registerPath({ method: 'get', path: '/healthz', tags: ['health'], summary: 'Liveness: the process is alive', responses: ok('Alive', rest.AliveAnswer) });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    tags: ['health'],
    summary: 'Readiness: 503 while Redis is unreachable or while shutting down',
    responses: { ...ok('Ready', rest.ReadyAnswer), 503: { description: 'Not ready', content: json(rest.ReadyAnswer) } },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/ws/health',
    tags: ['health'],
    summary: "Seed 002's health: pod, Redis state, local connections, uptime",
    responses: { ...ok('Healthy', rest.HealthAnswer), 503: { description: 'Degraded', content: json(rest.HealthAnswer) } },
  });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    tags: ['health'],
    summary: 'Prometheus exposition (METRICS_TOKEN as a bearer token when set; 404 when served on METRICS_PORT or off in production)',
    security: [{}, { [SECURITY_SCHEMES.metrics]: [] }],
    responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } }, 401: { description: 'METRICS_TOKEN required', content: json(rest.HttpErrorBody) }, 404: { description: 'Not served on this port' } },
  });
  registry.registerPath({ method: 'get', path: '/ws/config', tags: ['discovery'], summary: "Seed 001's service discovery: endpoints and this gateway's real limits", responses: ok('Configuration', rest.WsConfigAnswer) });
  registry.registerPath({ method: 'get', path: '/api/v1/openapi.json', tags: ['discovery'], summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: z.object({}).passthrough() } } } } });
  registry.registerPath({ method: 'get', path: '/api/v1/docs', tags: ['discovery'], summary: 'This document rendered (Swagger UI, served locally)', responses: { 200: { description: 'HTML page', content: { 'text/html': { schema: z.string() } } }, 301: { description: 'To the trailing-slash URL' } } });

  admin({ method: 'get', path: '/api/v1/ws/stats', summary: "Seed 002's stats, summed over every pod", responses: ok('Stats', rest.StatsAnswer) });
  admin({ method: 'get', path: '/api/v1/ws/rooms', summary: 'Active rooms with users, sheets and activity, across pods', responses: ok('Rooms', rest.RoomsAnswer) });
  admin({
    method: 'delete',
    path: '/api/v1/ws/users/{user_id}/connections',
    summary: 'Close every connection of a user on every pod ("Token revoked")',
    request: { params: rest.UserIdParam },
    responses: ok('Closed', rest.RevokeAnswer),
    errors: [400],
  });
  admin({
    method: 'post',
    path: '/api/v1/ws/rooms/{room_id}/broadcast',
    summary: 'Publish an event to every member of a room on every pod',
    description: 'Clients receive event `type` with the other fields as payload, each in its own wire format. An unknown room is not an error: 0 recipients.',
    request: { params: rest.RoomIdParam, body: { required: true, content: json(publish) } },
    responses: ok('Delivered', rest.BroadcastAnswer),
    errors: [400, 413],
  });
  admin({
    method: 'post',
    path: '/api/v1/ws/users/{user_id}/notify',
    summary: "Publish an event to every socket of a user on every pod",
    request: { params: rest.UserIdParam, body: { required: true, content: json(publish) } },
    responses: ok('Delivered', rest.NotifyAnswer),
    errors: [400, 413],
  });
  admin({ method: 'get', path: '/api/v1/ws/stats/detailed', summary: 'Every pod: connections by transport and dialect, rooms, messages, errors, rate limits, event-loop delay', responses: ok('Per pod', rest.DetailedStatsAnswer) });
  admin({
    method: 'delete',
    path: '/api/v1/ws/connections/{connection_id}',
    summary: 'Close one connection on whichever pod holds it (PERMISSION_DENIED "Closed by an administrator"; native close 1008)',
    request: { params: rest.ConnectionIdParam },
    responses: ok('Closed', rest.CloseConnectionAnswer),
    errors: [400, 404, 503],
  });
  admin({
    method: 'post',
    path: '/api/v1/ws/shutdown',
    summary: 'Gracefully drain and stop the pod that receives this request (only that one)',
    responses: { 202: { description: 'Draining', content: json(rest.ShutdownAnswer) } },
  });
}

/**
 * The OpenAPI 3.1 document, generated from the zod schemas the routes validate with
 * (shared/rest.ts and the other route modules' own). `describe` lists every route group; the
 * gateway's own come first.
 */
export function buildOpenApiDocument(groups: readonly DescribeRoutes[] = ADMIN_ROUTE_GROUPS): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  // Adds `.openapi()` to zod's prototype (idempotent); done here, when the document is first
  // asked for, rather than when a module is imported.
  extendZodWithOpenApi(z);
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', SECURITY_SCHEMES.bearer, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT whose `roles` claim contains `admin`.' });
  registry.registerComponent('securitySchemes', SECURITY_SCHEMES.apiKey, { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'ADMIN_API_KEY, for backends that mint no JWTs.' });
  registry.registerComponent('securitySchemes', SECURITY_SCHEMES.metrics, { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN.' });
  describeGatewayRoutes(registry);
  const others = new AdminRouteRegistry([registry]);
  for (const describe of groups) describe(others);
  return new OpenApiGeneratorV31(others.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'realtime-gateway',
      version: '1.0.0',
      description: 'Admin, publishing and discovery REST API of the realtime gateway. Realtime clients connect with Socket.IO at /socket.io or with a native WebSocket to the endpoints of GET /ws/config.',
    },
  });
}

/** The Swagger UI files the page loads; nothing else of the package is served. */
const ASSETS = new Set(['/swagger-ui.css', '/index.css', '/swagger-ui-bundle.js', '/swagger-ui-standalone-preset.js', '/favicon-32x32.png', '/favicon-16x16.png']);

const PAGE = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="UTF-8"><title>realtime-gateway API</title>
<link rel="stylesheet" href="./swagger-ui.css"><link rel="stylesheet" href="./index.css">
<link rel="icon" type="image/png" href="./favicon-32x32.png" sizes="32x32"></head>
<body><div id="swagger-ui"></div>
<script src="./swagger-ui-bundle.js"></script><script src="./swagger-ui-standalone-preset.js"></script><script src="./init.js"></script>
</body></html>
`;

const INIT = `window.onload = function () {
  window.ui = SwaggerUIBundle({ url: '../openapi.json', dom_id: '#swagger-ui', deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' });
};
`;

/**
 * The page's own policy (helmet's app-wide one would upgrade its requests to https and is written
 * for pages without scripts): its scripts and styles come from this origin only; Swagger UI sets
 * inline styles; "Try it out" calls this origin.
 */
const DOCS_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * `GET /api/v1/openapi.json` (built on first request, then kept) and the docs at `/api/v1/docs/`,
 * rendered by Swagger UI from the `swagger-ui-dist` package's files, served from this gateway (no
 * CDN). Both are public: they describe the API, the routes themselves stay guarded.
 */
export function openApiRouter(groups: readonly DescribeRoutes[] = ADMIN_ROUTE_GROUPS): Router {
  const router = Router();
  let document: object | undefined;
  router.get('/api/v1/openapi.json', (_req, res) => {
    document ??= buildOpenApiDocument(groups);
    res.json(document);
  });
  router.get('/api/v1/docs', (req, res) => {
    // Relative asset URLs need the trailing slash (and keep working behind a path-prefix proxy).
    if (!req.originalUrl.split('?')[0].endsWith('/')) return res.redirect(301, 'docs/');
    res.set('Content-Security-Policy', DOCS_CSP).type('html').send(PAGE);
  });
  const files = express.static(dirname(require.resolve('swagger-ui-dist/package.json')), { index: false, maxAge: '1h' });
  const assets: RequestHandler = (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (req.path === '/init.js') return res.type('application/javascript').send(INIT);
    if (ASSETS.has(req.path)) return files(req, res, next);
    next();
  };
  router.use('/api/v1/docs', assets);
  return router;
}
