import { execFile } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';

cleanUpAfterEach();

const REPO = join(__dirname, '..');

/**
 * The validator (@seriousme/openapi-schema-validator: the official OpenAPI 3.0/3.1 JSON schemas,
 * maintained) is an ES module, which Jest's CommonJS runtime cannot load: it runs in a node process
 * of its own, reading the document on stdin.
 */
const VALIDATE = `
import { Validator } from '@seriousme/openapi-schema-validator';
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', async () => {
  const validator = new Validator();
  const result = await validator.validate(JSON.parse(input));
  let refs = 'ok';
  if (result.valid) { try { validator.resolveRefs(); } catch (e) { refs = String(e && e.message || e); } }
  process.stdout.write(JSON.stringify({ ...result, version: validator.version, refs }));
});`;

function validate(document: unknown): Promise<{ valid: boolean; errors?: unknown; version: string; refs: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, ['--input-type=module', '-e', VALIDATE], { cwd: REPO, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`validator failed: ${stderr || err.message}`));
      resolve(JSON.parse(stdout));
    });
    child.stdin!.end(JSON.stringify(document));
  });
}

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  name: string;
  handle: { stack?: Layer[] };
  regexp: RegExp & { fast_slash?: boolean };
  keys: Array<{ name: string }>;
}

/** The path prefix an Express 4 layer is mounted at (`router.use('/x', sub)`), `:name` for its parameters. */
function mountPath(layer: Layer): string {
  if (layer.regexp.fast_slash) return '';
  let i = 0;
  return layer.regexp.source
    .replace(/^\^/, '')
    .replace(/\\\/\?\(\?=\\\/\|\$\)$/, '')
    .replace(/\(\?:\(\[\^\\\/\]\+\?\)\)/g, () => `:${layer.keys[i++]?.name ?? 'param'}`)
    .replace(/\\\//g, '/');
}

/** Every `METHOD path` the Express app routes, walking nested routers. */
function servedRoutes(stack: Layer[], prefix = ''): string[] {
  const out: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.push(`${method.toUpperCase()} ${prefix}${layer.route.path}`);
    } else if (layer.name === 'router' && layer.handle.stack) {
      out.push(...servedRoutes(layer.handle.stack, prefix + mountPath(layer)));
    }
  }
  return out;
}

/** `/a/:room_id/b` and `/a/{room_id}/b` compare equal whatever the parameter names. */
const normalize = (route: string) => route.replace(/:[A-Za-z0-9_]+/g, '{}').replace(/\{[A-Za-z0-9_]+\}/g, '{}');

/** The Express app behind the gateway's HTTP server (engine.io wraps its request listener): `req.app` of a request it served. */
async function expressApp(gateway: Awaited<ReturnType<typeof startGateway>>): Promise<{ _router: { stack: Layer[] } }> {
  let seen: IncomingMessage | undefined;
  const capture = (req: IncomingMessage) => (seen = req);
  gateway.httpServer.prependListener('request', capture);
  await fetch(urlOf(gateway, '/healthz'));
  gateway.httpServer.off('request', capture);
  return (seen as unknown as { app: { _router: { stack: Layer[] } } }).app;
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1, names both admin auth methods, and lists exactly the routes the app serves', async () => {
    const gw = await startGateway();
    const res = await fetch(urlOf(gw, '/api/v1/openapi.json'));
    expect(res.status).toBe(200);
    const doc = (await res.json()) as any;
    expect(doc.openapi).toBe('3.1.0');

    const result = await validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result).toMatchObject({ valid: true, version: '3.1', refs: 'ok' });

    expect(doc.components.securitySchemes).toMatchObject({
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
    });

    const documented: string[] = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const served = servedRoutes((await expressApp(gw))._router.stack);
    const publicRoutes = served.filter((r) => / (\/api\/v1\/|\/ws\/config$|\/healthz$|\/readyz$|\/metrics$)/.test(r));
    // Every route served under /api/v1 and /ws/config (and health, metrics) is documented ...
    expect(publicRoutes.map(normalize).filter((r) => !documented.map(normalize).includes(r))).toEqual([]);
    // ... and every documented route is served.
    expect(documented.map(normalize).filter((r) => !served.map(normalize).includes(r))).toEqual([]);
    // The routes of this issue are among them (sanity check of the walk itself).
    expect(documented).toEqual(
      expect.arrayContaining([
        'POST /api/v1/ws/rooms/{room_id}/broadcast',
        'POST /api/v1/ws/users/{user_id}/notify',
        'GET /api/v1/ws/stats/detailed',
        'DELETE /api/v1/ws/connections/{connection_id}',
        'POST /api/v1/ws/shutdown',
        'GET /api/v1/ws/stats',
        'GET /api/v1/ws/rooms',
        'DELETE /api/v1/ws/users/{user_id}/connections',
        'GET /ws/config',
        'GET /metrics',
        'GET /healthz',
        'GET /api/v1/openapi.json',
      ]),
    );

    // Every admin route says how to authenticate: an admin JWT or the API key.
    for (const route of documented.filter((r) => / \/api\/v1\/(ws\/(stats|rooms|users|connections|shutdown|broadcast)|streams)/.test(r))) {
      const [method, path] = route.split(' ');
      expect({ route, security: doc.paths[path][method.toLowerCase()].security }).toEqual({ route, security: [{ bearerAuth: [] }, { apiKey: [] }] });
    }
    // The publish body is the shared zod schema: an object with a lower_snake_case `type`, other fields allowed.
    const body = doc.components.schemas.PublishBody;
    expect(body).toMatchObject({ type: 'object', required: ['type'], properties: { type: { type: 'string', pattern: expect.any(String) } } });
    expect(body.additionalProperties).not.toBe(false);
  });

  it('is rendered at /api/v1/docs from assets this gateway serves itself, under a policy that lets them run', async () => {
    const gw = await startGateway();
    const redirect = await fetch(urlOf(gw, '/api/v1/docs'), { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(new URL(redirect.headers.get('location')!, urlOf(gw, '/api/v1/docs')).pathname).toBe('/api/v1/docs/');

    const page = await fetch(urlOf(gw, '/api/v1/docs/'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    // No CDN: every asset is relative to the page; no inline script (the policy would block it).
    expect(assets.length).toBeGreaterThanOrEqual(5);
    expect(assets.filter((a) => !a.startsWith('./'))).toEqual([]);
    expect(html).not.toMatch(/<script>[^<]/);
    for (const asset of assets) {
      const res = await fetch(new URL(asset, urlOf(gw, '/api/v1/docs/')));
      expect({ asset, status: res.status }).toEqual({ asset, status: 200 });
      if (asset.endsWith('.js')) expect(res.headers.get('content-type')).toMatch(/javascript/);
      if (asset.endsWith('.css')) expect(res.headers.get('content-type')).toMatch(/text\/css/);
      await res.arrayBuffer();
    }
    const init = await (await fetch(urlOf(gw, '/api/v1/docs/init.js'))).text();
    expect(init).toContain("'../openapi.json'");
    // The package's other files (its petstore page, source maps) are not served.
    expect((await fetch(urlOf(gw, '/api/v1/docs/index.html'))).status).toBe(404);
  });
});
