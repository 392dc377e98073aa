import { OpenAPIRegistry, OpenApiGeneratorV31, extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { Gateway } from '../server/gateway';
import { describeNotificationRoutes } from '../server/http/notifications';
import { collect, connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';
import { closeNatives, connectWorkspace } from './support/native';
import { adminToken, token } from './support/tokens';

const redis = useRedis();
cleanUpAfterEach();
afterEach(closeNatives);

const PATH = '/api/v1/ws/broadcast/notification';
const API_KEY = 'a-service-key-of-at-least-24-characters';
const valid = { title: 'New Task Assigned', message: 'You have been assigned a new task', category: 'tasks', priority: 'high', module_name: 'project_management' };

interface Post {
  body?: unknown;
  raw?: string;
  query?: string;
  headers?: Record<string, string>;
}

async function post(gw: Gateway, { body, raw, query = '?event_type=notification_created', headers }: Post): Promise<{ status: number; body: any }> {
  const res = await fetch(urlOf(gw, `${PATH}${query}`), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken()}`, ...headers },
    body: raw ?? JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const paths = (answer: { body: any }) => answer.body.issues.map((i: { path: string }) => i.path);

describe('the notification route', () => {
  it('needs an admin token or the service key', async () => {
    const gw = await startGateway({ ADMIN_API_KEY: API_KEY });
    expect(await post(gw, { body: valid, headers: { authorization: '' } })).toMatchObject({ status: 401, body: { code: 'AUTHENTICATION_FAILED' } });
    expect(await post(gw, { body: valid, headers: { authorization: `Bearer ${token({ sub: 'eve' })}` } })).toMatchObject({ status: 403, body: { code: 'PERMISSION_DENIED' } });
    expect(await post(gw, { body: valid, headers: { authorization: '', 'x-api-key': 'wrong-key-wrong-key-wrong-key' } })).toMatchObject({ status: 401 });
    const byKey = await post(gw, { body: valid, headers: { authorization: '', 'x-api-key': API_KEY } });
    expect(byKey).toMatchObject({ status: 201, body: { notification: { title: 'New Task Assigned', module_name: 'project_management' }, user_id: null } });
  });

  it('refuses bad bodies and queries with the issue paths, stores and delivers nothing, and keeps serving', async () => {
    const gw = await startGateway({ ADMIN_BODY_MAX_BYTES: '16384' });
    const watcher = await connectV4(urlOf(gw), token({ sub: 'alice' }), { namespace: '/notifications' });
    await request(watcher, 'subscribe_notifications', {});
    const events = collect(watcher, 'notification_event');

    const missing = await post(gw, { body: {} });
    expect(missing).toMatchObject({ status: 400, body: { code: 'INVALID_MESSAGE', error: expect.stringContaining('title') } });
    expect(paths(missing).sort()).toEqual(['category', 'message', 'priority', 'title']);
    const cases: Array<[unknown, string[]]> = [
      [{ ...valid, priority: 'urgent' }, ['priority']],
      [{ ...valid, title: 'x'.repeat(201) }, ['title']],
      [{ ...valid, category: '' }, ['category']],
      [{ ...valid, module_name: 'bad\u0000name' }, ['module_name']],
      [{ ...valid, user_id: '' }, ['user_id']],
      [{ ...valid, user_id: 42 }, ['user_id']],
      [{ ...valid, data: 'not an object' }, ['data']],
      [{ ...valid, data: { blob: 'x'.repeat(9000) } }, ['data']],
      [{ ...valid, module: 'misspelt' }, ['']],
      [[valid], ['']],
    ];
    for (const [body, expected] of cases) {
      const answer = await post(gw, { body });
      expect({ body, status: answer.status, code: answer.body.code, paths: paths(answer) }).toEqual({ body, status: 400, code: 'INVALID_MESSAGE', paths: expected });
    }
    const wrongEvent = await post(gw, { body: valid, query: '?event_type=notification_read' });
    expect(wrongEvent).toMatchObject({ status: 400, body: { code: 'INVALID_MESSAGE' } });
    expect(paths(wrongEvent)).toEqual(['event_type']);
    expect((await post(gw, { body: { ...valid, module: 'misspelt' } })).body.error).toContain("'module'");
    expect(await post(gw, { raw: '{"title": "cut' })).toMatchObject({ status: 400, body: { code: 'INVALID_JSON' } });
    expect(await post(gw, { raw: '"just a string"' })).toMatchObject({ status: 400, body: { code: 'INVALID_JSON' } });
    const deep = JSON.stringify({ ...valid, data: { nested: JSON.parse('['.repeat(40) + ']'.repeat(40)) } });
    expect(await post(gw, { raw: deep })).toMatchObject({ status: 400, body: { code: 'INVALID_MESSAGE', error: expect.stringContaining('nested') } });
    expect(await post(gw, { raw: 'title=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).toMatchObject({
      status: 400,
      body: { code: 'INVALID_MESSAGE', error: expect.stringContaining('application/json') },
    });
    expect(await post(gw, { body: { ...valid, message: 'x'.repeat(20000) } })).toMatchObject({ status: 413, body: { code: 'MESSAGE_TOO_LARGE' } });

    // Nothing was stored or delivered (an ack follows every event already sent to that socket).
    expect(await request(watcher, 'subscribe_notifications', {})).toMatchObject({ ok: true, notifications: [], unread_count: 0 });
    expect(events).toEqual([]);
    // And the route still works, without event_type too (the only event there is).
    expect(await post(gw, { body: { ...valid, user_id: 'alice' }, query: '' })).toMatchObject({ status: 201, body: { event_type: 'notification_created', recipients_on_this_pod: 1 } });
  });

  it('answers 503 and delivers nothing while Redis is away', async () => {
    const gw = await startGateway({ REDIS_URL: redis.url });
    const watcher = await connectV4(urlOf(gw), token({ sub: 'alice' }), { namespace: '/notifications' });
    await request(watcher, 'subscribe_notifications', {});
    const events = collect(watcher, 'notification_event');
    await redis.server.kill();
    try {
      expect(await post(gw, { body: valid })).toMatchObject({ status: 503, body: { code: 'UPSTREAM_UNAVAILABLE' } });
      expect((await request(watcher, 'subscribe_notifications', {})).error.code).toBe('UPSTREAM_UNAVAILABLE');
      expect((await request(watcher, 'notification_read', { notification_id: 'n1' })).error.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(events).toEqual([]);
      expect(watcher.connected).toBe(true);
    } finally {
      await redis.server.startProcess();
    }
  });

  it('is in the OpenAPI document, described by the schemas that validate it', () => {
    extendZodWithOpenApi(z); // as the document's builder does before generating
    const registry = new OpenAPIRegistry();
    describeNotificationRoutes(registry);
    const doc = new OpenApiGeneratorV31(registry.definitions).generateDocument({ openapi: '3.1.0', info: { title: 'gateway', version: '1' } });
    const op = doc.paths?.[PATH]?.post as any;
    expect(op.parameters).toEqual([expect.objectContaining({ in: 'query', name: 'event_type' })]);
    const body = op.requestBody.content['application/json'].schema;
    expect(body.required.sort()).toEqual(['category', 'message', 'priority', 'title']);
    expect(body.properties.priority.enum).toEqual(['low', 'normal', 'high', 'critical']);
    expect(body.additionalProperties).toBe(false);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '413', '503']));
    expect(op.responses['201'].content['application/json'].schema.properties.notification.required).toEqual(expect.arrayContaining(['id', 'read', 'created_at']));
  });
});

describe('the notification messages', () => {
  it('refuse bad filters and ids with the issue paths, and keep the last good subscription', async () => {
    const gw = await startGateway();
    const alice = await connectV4(urlOf(gw), token({ sub: 'alice' }), { namespace: '/notifications' });
    const events = collect(alice, 'notification_event');
    const cases: Array<[unknown, string]> = [
      [{ priorities: ['urgent'] }, 'priorities.0'],
      [{ categories: 'system' }, 'categories'],
      [{ categories: ['x'.repeat(65)] }, 'categories.0'],
      [{ modules: Array.from({ length: 33 }, (_, i) => `m${i}`) }, 'modules'],
      [{ limit: 0 }, 'limit'],
      [{ category: ['system'] }, ''],
      // What every type of the catalogue must refuse (every-message-type-validates-its-payload).
      [{ version: 'one', room: 7, room_id: 7, sessionId: 7, content: 7, sheet_id: 7 }, ''],
    ];
    for (const [payload, path] of cases) {
      const answer = await request(alice, 'subscribe_notifications', payload);
      expect({ payload, ok: answer.ok, code: answer.error?.code, paths: answer.error?.issues.map((i: { path: string }) => i.path) }).toEqual({
        payload,
        ok: false,
        code: 'INVALID_MESSAGE',
        paths: [path],
      });
    }
    // None of them subscribed the socket.
    await post(gw, { body: { ...valid, user_id: 'alice' } });
    expect((await request(alice, 'notification_read', {})).error).toMatchObject({ code: 'INVALID_MESSAGE', issues: [{ path: 'notification_id' }] });
    expect(events).toEqual([]);

    await request(alice, 'subscribe_notifications', { categories: ['tasks'] });
    expect((await request(alice, 'subscribe_notifications', { categories: 'tasks' })).ok).toBe(false);
    const delivered = waitFor(alice, 'notification_event');
    await post(gw, { body: { ...valid, user_id: 'alice' } });
    expect((await delivered).notification.category).toBe('tasks');

    for (const bad of [{ notification_id: 7 }, { notification_id: '' }, { notification_id: 'x'.repeat(129) }]) {
      expect((await request(alice, 'notification_read', bad)).error).toMatchObject({ code: 'INVALID_MESSAGE', issues: [{ path: 'notification_id' }] });
    }
    const bobs = await post(gw, { body: { ...valid, user_id: 'bob' } });
    const foreign = await request(alice, 'notification_read', { notification_id: bobs.body.notification.id });
    expect(foreign.error).toMatchObject({ code: 'INVALID_MESSAGE', notification_id: bobs.body.notification.id, issues: [{ path: 'notification_id' }] });
    const bob = await connectV4(urlOf(gw), token({ sub: 'bob' }), { namespace: '/notifications' });
    expect((await request(bob, 'subscribe_notifications', {})).notifications).toEqual([expect.objectContaining({ id: bobs.body.notification.id, read: false })]);

    // Without an ack callback the error is the `error` event.
    const error = waitFor(alice, 'error');
    alice.emit('notification_read', { notification_id: 'made-up' });
    expect(await error).toMatchObject({ code: 'INVALID_MESSAGE', message_type: 'notification_read', notification_id: 'made-up' });
    expect(alice.connected).toBe(true);
  });

  it('answer native seed 002 clients with error frames and keep their connection', async () => {
    const gw = await startGateway();
    const native = await connectWorkspace(gw, token({ sub: 'alice' }));
    native.send({ type: 'subscribe_notifications', priorities: ['urgent'] });
    expect(await native.next('error')).toMatchObject({ code: 'INVALID_MESSAGE', message_type: 'subscribe_notifications', issues: [{ path: 'priorities.0' }] });
    native.send({ type: 'notification_read', notification_id: 'notif_123' });
    expect(await native.next('error')).toMatchObject({ code: 'INVALID_MESSAGE', message_type: 'notification_read', error: 'Unknown notification notif_123' });
    native.send({ type: 'notification_read' });
    expect(await native.next('error')).toMatchObject({ code: 'INVALID_MESSAGE', issues: [{ path: 'notification_id' }] });
    native.send({ type: 'ping' });
    await native.next('pong');
    native.send({ type: 'subscribe_notifications', categories: ['tasks'] });
    expect(await native.next('notifications_subscribed')).toMatchObject({ unread_count: 0 });
  });
});
