// Stream items (README: Streams): published by REST (`POST /api/v1/streams/{type}`), by any Redis
// client on the streams channel, and by the gateway's own system_status feed, they reach exactly
// the local subscriptions whose filters match, on every pod, each with its own subscription_id.
import { Writable } from 'node:stream';
import type { Socket } from 'socket.io-client';
import winston from 'winston';
import { loadConfig } from '../server/config';
import { createGateway, type Gateway } from '../server/gateway';
import { connectV4, request, waitFor } from './support/clients';
import { startGateway, testEnv, urlOf } from './support/gateway';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';
import { closeNatives, connectLearning, connectStreaming, Endpoints, openNative, wsUrl, type NativeClient } from './support/native';
import { adminToken, token } from './support/tokens';

cleanUpAfterEach();
afterEach(() => closeNatives());

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
const API_KEY = 'a-service-key-of-at-least-24-characters';

async function post(gw: Gateway, type: string, body: unknown, headers: Record<string, string> = { Authorization: `Bearer ${adminToken()}` }) {
  const res = await fetch(urlOf(gw, `/api/v1/streams/${type}`), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** Subscribes a seed 003 connection; resolves with the subscription id. */
async function subscribe(ws: NativeClient, type: string, filters: Record<string, unknown> = {}): Promise<string> {
  ws.send({ type: 'subscribe', data: { type, filters } });
  return (await ws.next('subscribed')).subscription_id;
}

/** The next `count` data frames as `[subscription_id, item id]` pairs, sorted. */
async function deliveries(ws: NativeClient, count: number, key = 'event'): Promise<string[][]> {
  const out: string[][] = [];
  for (let i = 0; i < count; i++) {
    const frame = await ws.next('data');
    out.push([frame.subscription_id, frame.data[key].event_id ?? frame.data[key].id]);
  }
  return out.sort((a, b) => (a.join() < b.join() ? -1 : 1));
}

const sorted = (pairs: string[][]) => [...pairs].sort((a, b) => (a.join() < b.join() ? -1 : 1));

describe('one pod without Redis', () => {
  it('sends each matching subscription its own data frame: arrays, dot paths, several subscriptions on one connection', async () => {
    const gw = await startGateway();
    const ws = await connectStreaming(gw, token({ sub: 'analyst' }));
    const logins = await subscribe(ws, 'events', { event_type: ['login', 'purchase'] });
    const ios = await subscribe(ws, 'events', { 'payload.user_id': 'user123', 'payload.device.os': 'ios' });
    const alerts = await subscribe(ws, 'alerts');
    const items = [
      { event_id: 'e1', event_type: 'login', payload: { user_id: 'user9' } },
      { event_id: 'e2', event_type: 'user_action', payload: { user_id: 'user123', device: { os: 'ios' } } },
      { event_id: 'e3', event_type: 'purchase', payload: { user_id: 'user123', device: { os: 'ios' } } },
      { event_id: 'e4', event_type: 'logout', payload: { user_id: 'user123', device: { os: 'android' } } },
      { event_id: 'e5', event_type: 'login', payload: 'not an object' },
      { event_id: 'e6', event_type: ['login'] },
      { event_id: 'e7', event_type: 'x', 'payload.user_id': 'user123', payload: { device: { os: 'ios' } } },
      { event_id: 'e8', event_type: 'LOGIN' },
    ];
    expect(await post(gw, 'events', items)).toEqual({ status: 200, body: { type: 'events', accepted: 8, delivered: 5, timestamp: ISO } });
    const first = await ws.next('data');
    expect(first).toEqual({ type: 'data', data: { event: items[0], subscription_type: 'events' }, subscription_id: logins, timestamp: ISO });
    expect(await deliveries(ws, 4)).toEqual(sorted([[ios, 'e2'], [logins, 'e3'], [ios, 'e3'], [logins, 'e5']]));

    // One object is one item; a subscription without filters gets every item of its type, and only of its type.
    expect((await post(gw, 'alerts', { id: 'a1', severity: 'high' })).body).toMatchObject({ accepted: 1, delivered: 1 });
    expect(await ws.next('data')).toMatchObject({ data: { alert: { id: 'a1', severity: 'high' }, subscription_type: 'alerts' }, subscription_id: alerts });

    // After unsubscribing, `ios` gets nothing: the alert sent after it is the next frame.
    ws.send({ type: 'unsubscribe', data: { subscription_id: ios } });
    await ws.next('unsubscribed');
    expect((await post(gw, 'events', items[1])).body).toMatchObject({ accepted: 1, delivered: 0 });
    await post(gw, 'alerts', { id: 'a2' });
    expect(await ws.next()).toMatchObject({ type: 'data', subscription_id: alerts, data: { alert: { id: 'a2' } } });

    // Numbers, booleans and null compare exactly (`===`): "1" is not 1.
    const typed = await subscribe(ws, 'predictions', { score: [1, 2], 'model.live': true, label: null });
    await post(gw, 'predictions', [
      { id: 'p1', score: '1', model: { live: true }, label: null },
      { id: 'p2', score: 2, model: { live: 'true' }, label: null },
      { id: 'p3', score: 1, model: { live: true } },
      { id: 'p4', score: 1, model: { live: true }, label: null },
    ]);
    expect(await ws.next('data')).toMatchObject({ subscription_id: typed, data: { prediction: { id: 'p4' }, subscription_type: 'predictions' } });
  });

  it('serves Socket.IO clients too, with the subscription_id in the payload, and forgets a disconnected socket', async () => {
    const gw = await startGateway();
    const socket: Socket = await connectV4(urlOf(gw), token({ sub: 'dash' }), { namespace: '/streams' });
    const ack = await request(socket, 'subscribe', { type: 'aggregations', filters: { window: '1m' } });
    expect(ack).toEqual({ ok: true, subscription_id: expect.any(String), type: 'aggregations', filters: { window: '1m' } });
    const got = waitFor(socket, 'data');
    await post(gw, 'aggregations', [{ window: '5m', count: 1 }, { window: '1m', count: 2 }]);
    expect(await got).toEqual({ subscription_id: ack.subscription_id, data: { aggregation: { window: '1m', count: 2 }, subscription_type: 'aggregations' } });

    const onServer = gw.io.of('/streams').sockets.get(socket.id!)!;
    const gone = new Promise((resolve) => onServer.once('disconnect', resolve));
    socket.disconnect();
    await gone;
    // The pod no longer holds the subscription: nothing is delivered.
    expect((await post(gw, 'aggregations', { window: '1m' })).body).toMatchObject({ delivered: 0 });
  });

  it('refuses bad requests with clear errors and publishes nothing', async () => {
    const gw = await startGateway({ ADMIN_API_KEY: API_KEY, ADMIN_BODY_MAX_BYTES: '2048' });
    const ws = await connectStreaming(gw, token({ sub: 'watcher' }));
    const all = await subscribe(ws, 'events');
    const item = { event_id: 'x' };

    expect(await post(gw, 'events', item, {})).toMatchObject({ status: 401, body: { code: 'AUTHENTICATION_FAILED' } });
    expect(await post(gw, 'events', item, { Authorization: `Bearer ${token({ sub: 'user' })}` })).toMatchObject({ status: 403, body: { code: 'PERMISSION_DENIED' } });
    expect(await post(gw, 'events', item, { 'X-API-Key': 'wrong-key-wrong-key-wrong-key' })).toMatchObject({ status: 401 });
    expect(await post(gw, 'horoscopes', item)).toEqual({
      status: 404,
      body: { code: 'UNKNOWN_MESSAGE_TYPE', error: expect.stringContaining('one of events, metrics, alerts, predictions, aggregations, system_status'), timestamp: ISO },
    });
    expect(await post(gw, 'events', '{"event_id":')).toMatchObject({ status: 400, body: { code: 'INVALID_JSON' } });
    expect(await post(gw, 'events', '"just a string"')).toMatchObject({ status: 400, body: { code: 'INVALID_JSON' } });
    expect(await post(gw, 'events', [])).toMatchObject({ status: 400, body: { code: 'INVALID_MESSAGE', issues: [{ path: '' }] } });
    expect(await post(gw, 'events', [item, 42, 'x'])).toMatchObject({
      status: 400,
      body: { code: 'INVALID_MESSAGE', issues: [{ path: '1', message: expect.stringContaining('object') }, { path: '2' }] },
    });
    expect(await post(gw, 'events', Array.from({ length: 101 }, () => ({})))).toMatchObject({ status: 400, body: { issues: [{ message: expect.stringContaining('100') }] } });
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expect(await post(gw, 'events', [item, deep])).toMatchObject({ status: 400, body: { issues: [{ path: '1', message: 'must nest at most 32 levels' }] } });
    expect(await post(gw, 'events', { big: 'x'.repeat(3000) })).toMatchObject({ status: 413, body: { code: 'MESSAGE_TOO_LARGE' } });
    const text = await fetch(urlOf(gw, '/api/v1/streams/events'), { method: 'POST', headers: { Authorization: `Bearer ${adminToken()}`, 'Content-Type': 'text/plain' }, body: '{}' });
    expect(text.status).toBe(400);

    // None of the above reached the subscriber; the service key works.
    expect(await post(gw, 'events', { event_id: 'ok' }, { 'X-API-Key': API_KEY })).toMatchObject({ status: 200, body: { delivered: 1 } });
    expect(await ws.next()).toMatchObject({ type: 'data', subscription_id: all, data: { event: { event_id: 'ok' } } });
  });

  it('seed 004 analytics: subscribe {metrics} gets metric_update for its metrics, scoped to its context', async () => {
    const gw = await startGateway();
    const teacher = await connectLearning(gw, Endpoints.analytics, token({ sub: 'teacher' }), 'context_123');
    const other = await connectLearning(gw, Endpoints.analytics, token({ sub: 'other' }), 'context_456');
    await Promise.all([teacher.next('room_state'), other.next('room_state')]);
    teacher.send({ type: 'subscribe', data: { metrics: ['engagement', 'performance'] } });
    const teacherSub = (await teacher.next('subscribed')).data.subscription_id;
    other.send({ type: 'subscribe', id: 'req-1', data: { metrics: ['engagement'] } });
    const otherSub = (await other.next('subscribed')).data.subscription_id;
    const streaming = await connectStreaming(gw, token({ sub: 'ops' }));
    const dataSub = await subscribe(streaming, 'metrics', { metric: 'engagement' });

    const published = await post(gw, 'metrics', [
      { metric: 'engagement', value: 0.8, timestamp: '2024-01-01T00:00:00Z' },
      { name: 'performance', value: 72 },
      { metric: 'activity', value: 5 },
      { metric: 'engagement', value: 'high' },
      { metric: 'engagement', value: 0.9, contextId: 'context_456' },
      { metric: 'engagement', value: 0.95, context_id: 'context_123', timestamp: 1704067200000 },
    ]);
    expect(published.body).toMatchObject({ accepted: 6, delivered: 9 });

    const update = (data: object) => ({ type: 'metric_update', id: expect.any(String), timestamp: ISO, data });
    expect(await teacher.next('metric_update')).toEqual(update({ subscription_id: teacherSub, metric: 'engagement', value: 0.8, timestamp: '2024-01-01T00:00:00Z' }));
    expect(await teacher.next('metric_update')).toEqual(update({ subscription_id: teacherSub, metric: 'performance', value: 72, timestamp: ISO }));
    expect(await teacher.next('metric_update')).toEqual(update({ subscription_id: teacherSub, metric: 'engagement', value: 0.95, timestamp: '2024-01-01T00:00:00.000Z' }));
    expect((await other.next('metric_update')).data).toMatchObject({ subscription_id: otherSub, value: 0.8 });
    expect((await other.next('metric_update')).data).toMatchObject({ subscription_id: otherSub, value: 0.9 });
    const values = [];
    for (let i = 0; i < 4; i++) values.push((await streaming.next('data')).data.metric.value);
    expect(values).toEqual([0.8, 'high', 0.9, 0.95]);
    expect(dataSub).toEqual(expect.any(String));

    // Nothing else was queued for either analytics client: the next update is the next item.
    await post(gw, 'metrics', { metric: 'engagement', value: 1 });
    expect((await teacher.next('metric_update')).data).toMatchObject({ metric: 'engagement', value: 1 });
    expect((await other.next('metric_update')).data).toMatchObject({ metric: 'engagement', value: 1 });
  });

  it('holds at most 32 subscriptions per connection', async () => {
    const gw = await startGateway();
    const ws = await connectStreaming(gw, token({ sub: 'greedy' }));
    for (let i = 0; i < 32; i++) await subscribe(ws, 'events', { n: i });
    ws.send({ type: 'subscribe', data: { type: 'events', filters: { n: 32 } } });
    expect(await ws.next('error')).toMatchObject({ data: { code: 'RATE_LIMIT_EXCEEDED', limit: 32 } });
    expect((await post(gw, 'events', [{ n: 0 }, { n: 31 }, { n: 32 }])).body).toMatchObject({ delivered: 2 });
  });

  it('feeds system_status from the pod itself every SYSTEM_STATUS_INTERVAL_MS', async () => {
    const gw = await startGateway({ SYSTEM_STATUS_INTERVAL_MS: '100' });
    const ws = await connectStreaming(gw, token({ sub: 'sre' }));
    const id = await subscribe(ws, 'system_status', { pod: gw.config.podId });
    expect(await ws.next('data', 3000)).toEqual({
      type: 'data',
      data: {
        status: {
          pod: gw.config.podId,
          status: 'healthy',
          connections: 1,
          subscriptions: 1,
          uptime_seconds: expect.any(Number),
          redis: 'disabled',
          event_loop_delay_ms: expect.any(Number),
          timestamp: ISO,
        },
        subscription_type: 'system_status',
      },
      subscription_id: id,
      timestamp: ISO,
    });
  });

  it('serves the streaming dialect on a WebSocket upgrade at the root path', async () => {
    const gw = await startGateway();
    const ws = await openNative(wsUrl(gw, ''));
    ws.send({ type: 'auth', data: { token: token({ sub: 'root' }) } });
    expect(await ws.next('auth_success')).toMatchObject({ data: { user_id: 'root' } });
    const id = await subscribe(ws, 'events', { event_type: 'user_action' });
    await post(gw, 'events', [{ event_type: 'other' }, { event_type: 'user_action', event_id: 'r1' }]);
    expect(await ws.next('data')).toMatchObject({ subscription_id: id, data: { event: { event_id: 'r1' } } });
  });
});

describe('several pods on Redis', () => {
  const redis = useRedis();
  const stopAfterTest: Gateway[] = [];
  afterEach(async () => {
    await Promise.all(stopAfterTest.splice(0).map((gw) => gw.close()));
  });

  /** Resolves once `count` connections listen on the channel (each pod subscribes as it starts). */
  async function listeners(channel: string, count: number): Promise<void> {
    const client = await redis.server.client();
    for (let i = 0; i < 250; i++) {
      const counts = await client.pubSubNumSub(channel);
      if ((counts[channel] ?? 0) >= count) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`${channel} never had ${count} listeners`);
  }

  it('items posted to one pod and items PUBLISHed by any Redis client reach matching subscribers on every pod', async () => {
    const a = await startGateway({ REDIS_URL: redis.url });
    const b = await startGateway({ REDIS_URL: redis.url });
    await listeners('rg:streams', 2);
    const onA = await connectStreaming(a, token({ sub: 'a' }));
    const onB = await connectStreaming(b, token({ sub: 'b' }));
    const subA = await subscribe(onA, 'events', { 'user.tier': ['gold', 'silver'] });
    const subB = await subscribe(onB, 'events', { 'user.tier': 'gold' });
    const subB2 = await subscribe(onB, 'events', { event_type: 'signup' });

    const rest = await post(a, 'events', [
      { event_id: 'r1', user: { tier: 'gold' } },
      { event_id: 'r2', user: { tier: 'silver' }, event_type: 'signup' },
      { event_id: 'r3', user: { tier: 'bronze' } },
    ]);
    expect(rest).toEqual({ status: 200, body: { type: 'events', accepted: 3, receivers: 2, timestamp: ISO } });
    expect(await deliveries(onA, 2)).toEqual(sorted([[subA, 'r1'], [subA, 'r2']]));
    expect(await deliveries(onB, 2)).toEqual(sorted([[subB, 'r1'], [subB2, 'r2']]));

    const publisher = await redis.server.client();
    expect(await publisher.publish('rg:streams', JSON.stringify({ type: 'events', item: { event_id: 'p1', user: { tier: 'gold' } } }))).toBe(2);
    await publisher.publish('rg:streams', JSON.stringify({ type: 'events', items: [{ event_id: 'p2', event_type: 'signup' }, { event_id: 'p3' }] }));
    expect(await deliveries(onA, 1)).toEqual([[subA, 'p1']]);
    expect(await deliveries(onB, 2)).toEqual(sorted([[subB, 'p1'], [subB2, 'p2']]));
  });

  it('drops bad channel messages with one rate-limited warning and keeps serving; STREAMS_CHANNEL names the channel', async () => {
    const lines: any[] = [];
    const logger = winston.createLogger({
      level: 'warn',
      format: winston.format.json(),
      transports: [new winston.transports.Stream({ stream: new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) }) })],
    });
    const gw = await createGateway(loadConfig(testEnv({ REDIS_URL: redis.url, STREAMS_CHANNEL: 'test:streams' })), { logger });
    stopAfterTest.push(gw);
    await listeners('test:streams', 1);
    const ws = await connectStreaming(gw, token({ sub: 'c' }));
    const id = await subscribe(ws, 'alerts');
    const publisher = await redis.server.client();
    let deep: unknown = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    for (const bad of [
      'not json',
      '{"type": "alerts", "item": ',
      JSON.stringify({ type: 'horoscopes', item: {} }),
      JSON.stringify({ type: 'alerts' }),
      JSON.stringify({ type: 'alerts', item: 'x' }),
      JSON.stringify({ type: 'alerts', item: {}, items: [{}] }),
      JSON.stringify({ type: 'alerts', items: [] }),
      JSON.stringify({ type: 'alerts', items: Array.from({ length: 101 }, () => ({})) }),
      JSON.stringify({ type: 'alerts', item: deep }),
      JSON.stringify({ type: 'alerts', item: { huge: 'x'.repeat(1 << 20) } }),
      JSON.stringify([{ type: 'alerts', item: {} }]),
      'null',
    ]) {
      await publisher.publish('test:streams', bad);
    }
    await publisher.publish('rg:streams', JSON.stringify({ type: 'alerts', item: { id: 'wrong-channel' } }));
    await publisher.publish('test:streams', JSON.stringify({ type: 'alerts', item: { id: 'good' } }));
    expect(await ws.next()).toMatchObject({ type: 'data', subscription_id: id, data: { alert: { id: 'good' } } });
    ws.send({ type: 'ping' });
    expect(await ws.next()).toMatchObject({ type: 'pong' });
    // Twelve bad messages, one warning (the next may come 10 s later, counting what was dropped meanwhile).
    expect(lines.filter((l) => String(l.message).startsWith('stream channel message dropped'))).toEqual([
      expect.objectContaining({ level: 'warn', message: 'stream channel message dropped: not JSON', channel: 'test:streams', dropped: 1, module: 'streams' }),
    ]);
  });

  it('each pod publishes its own system_status item to every pod', async () => {
    const env = { REDIS_URL: redis.url, SYSTEM_STATUS_INTERVAL_MS: '100' };
    const a = await startGateway(env);
    const b = await startGateway(env);
    const ws = await connectStreaming(a, token({ sub: 'sre' }));
    const fromB = await subscribe(ws, 'system_status', { pod: b.config.podId });
    const fromA = await subscribe(ws, 'system_status', { pod: a.config.podId, status: 'healthy', redis: 'connected' });
    const seen = new Map<string, any>();
    while (seen.size < 2) {
      const frame = await ws.next('data', 3000);
      seen.set(frame.subscription_id, frame.data.status);
    }
    expect(seen.get(fromB)).toMatchObject({ pod: b.config.podId, connections: 0, subscriptions: 0, redis: 'connected' });
    expect(seen.get(fromA)).toMatchObject({ pod: a.config.podId, connections: 1, subscriptions: expect.any(Number) });
  });

  it('answers 503 and publishes nothing while Redis is unreachable', async () => {
    const gw = await startGateway({ REDIS_URL: redis.url });
    await listeners('rg:streams', 1);
    await redis.server.kill();
    try {
      expect(await post(gw, 'events', { event_id: 'lost' })).toMatchObject({ status: 503, body: { code: 'UPSTREAM_UNAVAILABLE' } });
    } finally {
      // Back before the pod stops (as in the Redis outage test): its clients then quit cleanly.
      await redis.server.startProcess();
    }
  });
});

describe('the OpenAPI description', () => {
  it('describes POST /api/v1/streams/{type} from the schemas that validate it', async () => {
    const { OpenAPIRegistry, OpenApiGeneratorV31, extendZodWithOpenApi } = await import('@asteasolutions/zod-to-openapi');
    const { z } = await import('zod');
    const { describeStreamRoutes } = await import('../server/http/streams');
    extendZodWithOpenApi(z);
    const registry = new OpenAPIRegistry();
    describeStreamRoutes(registry);
    const doc = new OpenApiGeneratorV31(registry.definitions).generateDocument({ openapi: '3.1.0', info: { title: 'streams', version: '1' } });
    const route = (doc.paths as any)['/api/v1/streams/{type}'].post;
    expect(route.parameters).toEqual([
      expect.objectContaining({ in: 'path', name: 'type', required: true, schema: expect.objectContaining({ enum: ['events', 'metrics', 'alerts', 'predictions', 'aggregations', 'system_status'] }) }),
    ]);
    expect(route.requestBody.content['application/json'].schema.anyOf).toHaveLength(2);
    expect(Object.keys(route.responses)).toEqual(['200', '400', '401', '403', '404', '413', '503']);
  });
});
