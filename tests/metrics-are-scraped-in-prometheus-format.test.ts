import { startMetricsServer } from '../server/http/metrics';
import { connectV4, request, waitFor } from './support/clients';
import { startGateway, stopGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import { closeNatives, connectWorkspace } from './support/native';
import { allSamples, parsePrometheus, valueOf, type Family } from './support/prometheus';
import { freePort } from './support/redis';
import { token } from './support/tokens';

cleanUpAfterEach();
afterEach(() => closeNatives());

const METRICS_TOKEN = 'scrape-token-0123456789abcdef';

/** GET /metrics; on 200 the body must parse strictly as the Prometheus text format. */
async function scrape(base: string, bearer?: string): Promise<{ status: number; families?: Map<string, Family>; body: string; contentType: string | null }> {
  const res = await fetch(`${base}/metrics`, { headers: bearer ? { Authorization: `Bearer ${bearer}` } : {} });
  const body = await res.text();
  const contentType = res.headers.get('content-type');
  if (res.status !== 200) return { status: res.status, body, contentType };
  return { status: 200, families: parsePrometheus(body), body, contentType };
}

async function families(base: string, bearer?: string): Promise<Map<string, Family>> {
  const res = await scrape(base, bearer);
  expect(res.status).toBe(200);
  expect(res.contentType).toMatch(/^text\/plain.*version=0\.0\.4/);
  return res.families!;
}

/** Scrapes until `check` holds (a gauge that moves on a server-side event the client cannot await). */
async function eventually(base: string, check: (f: Map<string, Family>) => boolean, timeoutMs = 5000): Promise<Map<string, Family>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const f = await families(base);
    if (check(f) || Date.now() > deadline) return f;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Every label name a gateway_ series may carry: the label sets are bounded by construction. */
const BOUNDED_LABELS = new Set(['transport', 'namespace', 'type', 'code', 'class', 'scope', 'le']);

describe('GET /metrics serves Prometheus metrics of the pod', () => {
  it('counts connections, messages, errors, handler time and rooms, with bounded labels only', async () => {
    const gw = await startGateway();
    const base = urlOf(gw);
    const before = await families(base);
    const eio4 = { transport: 'eio4', namespace: '/' };
    const native = { transport: 'native:/api/v1/ws', namespace: '/' };

    const userId = 'metrics-user-7f3a91';
    const roomId = 'metrics-room-9c1d42';
    const sheetId = 'metrics-sheet-5e2b';
    const socket = await connectV4(base, token({ sub: userId }));
    const workspace = await connectV4(base, token({ sub: `${userId}-ws` }), { namespace: '/workspace' });
    const flat = await connectWorkspace(gw, token({ sub: `${userId}-native` }));

    expect((await request(socket, 'join_room', { room_id: roomId })).ok).toBe(true);
    expect((await request(workspace, 'join_room', { room_id: roomId })).ok).toBe(true);
    flat.send({ type: 'join_room', room_id: roomId });
    await flat.next((f) => f.type === 'room_state' && f.room_id === roomId);
    const updated = await request(socket, 'cell_update', { sheet_id: sheetId, cell_id: 'A1', value: 'v', formula: null, version: 0 });
    expect(updated.ok).toBe(true);
    expect((await request(socket, 'join_room', { room_id: 42 })).error.code).toBe('INVALID_MESSAGE');
    expect((await request(socket, 'launch_missiles', { room_id: roomId })).error.code).toBe('UNKNOWN_MESSAGE_TYPE');
    const noAck = waitFor(socket, 'error');
    socket.emit('leave_room', { room_id: 42 });
    expect((await noAck).code).toBe('INVALID_MESSAGE');

    const after = await families(base);
    const delta = (name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);

    expect(delta('gateway_connections', eio4)).toBe(1);
    expect(delta('gateway_connections', { transport: 'eio4', namespace: '/workspace' })).toBe(1);
    expect(delta('gateway_connections', native)).toBe(1);
    expect(delta('gateway_connections_opened_total', { transport: 'eio4' })).toBe(2);
    expect(delta('gateway_connections_opened_total', { transport: 'native:/api/v1/ws' })).toBe(1);
    expect(delta('gateway_messages_received_total', { type: 'cell_update' })).toBe(1);
    expect(delta('gateway_messages_received_total', { type: 'join_room' })).toBeGreaterThanOrEqual(4);
    expect(delta('gateway_messages_received_total', { type: 'unknown' })).toBe(1);
    // Emits into rooms are counted by event type (room_state answers each join), once per emit,
    // and a second scrape reads the same totals: tallies are added when read, never twice.
    expect(delta('gateway_messages_sent_total', { type: 'room_state' })).toBeGreaterThanOrEqual(2);
    const again = await families(base);
    expect(valueOf(again, 'gateway_messages_sent_total', { type: 'room_state' })).toBe(valueOf(after, 'gateway_messages_sent_total', { type: 'room_state' }));
    expect(delta('gateway_errors_total', { code: 'INVALID_MESSAGE' })).toBe(2);
    expect(delta('gateway_errors_total', { code: 'UNKNOWN_MESSAGE_TYPE' })).toBe(1);
    expect(delta('gateway_handler_duration_seconds_count', { type: 'join_room' })).toBeGreaterThanOrEqual(3);
    expect(valueOf(after, 'gateway_handler_duration_seconds_bucket', { type: 'join_room', le: '+Inf' })).toBe(
      valueOf(after, 'gateway_handler_duration_seconds_count', { type: 'join_room' }),
    );
    expect(after.get('gateway_handler_duration_seconds')?.type).toBe('histogram');
    // One client room, joined from two namespaces and a native endpoint: counted once.
    expect(valueOf(after, 'gateway_rooms')).toBe(1);
    // A single pod without Redis has no Redis to report on.
    expect(after.has('gateway_redis_up')).toBe(false);
    expect(after.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(after.get('nodejs_eventloop_lag_seconds')?.samples).toHaveLength(1);

    const gatewaySeries = allSamples(after).filter((s) => s.name.startsWith('gateway_'));
    for (const sample of gatewaySeries) {
      for (const [label, value] of Object.entries(sample.labels)) {
        expect(BOUNDED_LABELS).toContain(label);
        for (const secret of [userId, roomId, sheetId, socket.id!, 'launch_missiles']) expect(value).not.toContain(secret);
      }
    }

    socket.close();
    const closed = await eventually(base, (f) => valueOf(f, 'gateway_connections', eio4) === valueOf(before, 'gateway_connections', eio4));
    expect(valueOf(closed, 'gateway_connections', eio4)).toBe(valueOf(before, 'gateway_connections', eio4));
  });

  it('requires the bearer METRICS_TOKEN when it is set', async () => {
    const gw = await startGateway({ METRICS_TOKEN });
    const missing = await scrape(urlOf(gw));
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.body)).toEqual({ code: 'AUTHENTICATION_FAILED', error: expect.any(String), timestamp: expect.any(String) });
    expect((await scrape(urlOf(gw), `${METRICS_TOKEN}x`)).status).toBe(401);
    expect((await scrape(urlOf(gw), METRICS_TOKEN.slice(1))).status).toBe(401);
    const ok = await families(urlOf(gw), METRICS_TOKEN);
    expect(ok.has('gateway_connections')).toBe(true);
  });

  it('serves /metrics on METRICS_PORT only, never on the main port', async () => {
    const metricsPort = await freePort();
    const gw = await startGateway({ METRICS_PORT: String(metricsPort) });
    expect((await scrape(urlOf(gw))).status).toBe(404);
    const socket = await connectV4(urlOf(gw), token({ sub: 'scraped' }));
    const onPort = await families(urlOf(metricsPort));
    expect(valueOf(onPort, 'gateway_connections', { transport: 'eio4', namespace: '/' })).toBe(1);
    socket.close();
    await stopGateway(gw);
    await expect(fetch(`${urlOf(metricsPort)}/metrics`)).rejects.toThrow();
  });

  it('startMetricsServer serves a gateway metrics on a port of its own, token required when given', async () => {
    const gw = await startGateway();
    const server = await startMetricsServer(gw.metrics, { port: 0, host: '127.0.0.1', token: METRICS_TOKEN });
    try {
      expect(server.port).toBeGreaterThan(0);
      expect((await scrape(urlOf(server.port))).status).toBe(401);
      expect((await scrape(urlOf(server.port), 'wrong-token-of-the-same-size!')).status).toBe(401);
      const f = await families(urlOf(server.port), METRICS_TOKEN);
      expect(f.has('gateway_messages_received_total')).toBe(true);
      expect((await fetch(`${urlOf(server.port)}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('in production answers 404 without METRICS_TOKEN or METRICS_PORT, and serves it with the token', async () => {
    const open = await startGateway({ NODE_ENV: 'production' });
    expect((await scrape(urlOf(open))).status).toBe(404);
    const guarded = await startGateway({ NODE_ENV: 'production', METRICS_TOKEN });
    expect((await scrape(urlOf(guarded))).status).toBe(401);
    expect((await families(urlOf(guarded), METRICS_TOKEN)).has('gateway_rooms')).toBe(true);
  });

  it('keeps each gateway metrics apart when several run in one process', async () => {
    const a = await startGateway();
    const b = await startGateway();
    await connectV4(urlOf(a), token({ sub: 'only-on-a' }));
    const onB = await families(urlOf(b));
    expect(valueOf(onB, 'gateway_connections', { transport: 'eio4', namespace: '/' })).toBe(0);
    expect(valueOf(await families(urlOf(a)), 'gateway_connections', { transport: 'eio4', namespace: '/' })).toBe(1);
  });
});
