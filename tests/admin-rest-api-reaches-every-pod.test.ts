import type { Gateway } from '../server/gateway';
import { collect, connectV2, connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';
import { closeNatives, connectAgents, connectLearning, connectWorkspace, Endpoints, type NativeClient } from './support/native';
import { adminToken, token } from './support/tokens';

const redis = useRedis();
cleanUpAfterEach();
afterEach(() => closeNatives());

const API_KEY = 'a'.repeat(32);
const BODY_LIMIT = 4096;

type Auth = { key?: string; bearer?: string } | 'none';

/** One REST call; by default with the service key. */
async function api(gw: Gateway, method: string, path: string, options: { body?: unknown; raw?: string; contentType?: string; auth?: Auth } = {}) {
  const auth = options.auth ?? { key: API_KEY };
  const headers: Record<string, string> = {};
  if (auth !== 'none' && auth.key) headers['X-API-Key'] = auth.key;
  if (auth !== 'none' && auth.bearer) headers.Authorization = `Bearer ${auth.bearer}`;
  let body: string | undefined = options.raw;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['Content-Type'] = options.contentType ?? 'application/json';
  const res = await fetch(urlOf(gw, path), { method, headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined };
}

/** Three pods on one Redis, with the service key and a small body limit. */
const threePods = () => Promise.all([0, 1, 2].map(() => startGateway({ REDIS_URL: redis.url, ADMIN_API_KEY: API_KEY, ADMIN_BODY_MAX_BYTES: String(BODY_LIMIT) })));

/** A seed 002 client in room `roomId`, ready once its room_state arrived. */
async function workspaceIn(gw: Gateway, sub: string, roomId: string): Promise<NativeClient> {
  const client = await connectWorkspace(gw, token({ sub }));
  client.send({ type: 'join_room', room_id: roomId });
  await client.next((f) => f.type === 'room_state' && f.room_id === roomId);
  return client;
}

/** A seed 004 chat client whose contextId joined it to `roomId`. */
async function chatIn(gw: Gateway, sub: string, roomId: string): Promise<NativeClient> {
  const client = await connectLearning(gw, Endpoints.chat, token({ sub }), roomId);
  await client.next((f) => f.type === 'room_state' && f.data.room_id === roomId);
  return client;
}

describe('the admin REST API on three pods', () => {
  it('broadcasts a room event POSTed to one pod to every member on every pod, each in its own wire format', async () => {
    const [a, b, c] = await threePods();
    const onA = await connectV4(urlOf(a), token({ sub: 'alice' }));
    const onB = await connectV4(urlOf(b), token({ sub: 'bob' }), { namespace: '/workspace' });
    const legacyOnC = await connectV2(urlOf(c), token({ sub: 'carol' }));
    for (const s of [onA, onB, legacyOnC]) expect(await request(s, 'join_room', { room_id: 'workspace_123' })).toMatchObject({ ok: true });
    const flatOnB = await workspaceIn(b, 'dave', 'workspace_123');
    const chatOnC = await chatIn(c, 'erin', 'workspace_123');
    // Someone in another room of the same pods.
    const elsewhere = await connectV4(urlOf(b), token({ sub: 'frank' }));
    await request(elsewhere, 'join_room', { room_id: 'other' });
    const strayed = collect(elsewhere, 'system_announcement');

    const announcement = { type: 'system_announcement', title: 'Maintenance Notice', message: 'System maintenance in 30 minutes', level: { severity: 2 } };
    const expected = { title: 'Maintenance Notice', message: 'System maintenance in 30 minutes', level: { severity: 2 } };
    const arrivals = [onA, onB, legacyOnC].map((s) => waitFor(s, 'system_announcement'));
    const res = await api(a, 'POST', '/api/v1/ws/rooms/workspace_123/broadcast', { body: announcement });
    expect(res).toEqual({
      status: 200,
      body: { room_id: 'workspace_123', type: 'system_announcement', recipients: 5, partial: false, delivered_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
    });
    for (const payload of await Promise.all(arrivals)) expect(payload).toEqual(expected);
    // Native seed 002 gets the body as it was POSTed; seed 004 its envelope with the fields in `data`.
    expect(await flatOnB.next('system_announcement')).toEqual(announcement);
    expect(await chatOnC.next('system_announcement')).toEqual({ type: 'system_announcement', id: expect.any(String), timestamp: expect.any(String), data: expected });

    // An unknown room is no error: nobody gets it.
    expect((await api(b, 'POST', '/api/v1/ws/rooms/nobody_here/broadcast', { body: { type: 'system_announcement' } })).body).toMatchObject({ recipients: 0, partial: false });
    // The member of the other room got nothing (a later event to it arrives first).
    const later = waitFor(elsewhere, 'ping_other');
    await api(c, 'POST', '/api/v1/ws/rooms/other/broadcast', { body: { type: 'ping_other' } });
    await later;
    expect(strayed).toEqual([]);
  });

  it('notifies every socket of a user on every pod, and nobody who merely joined a room named after the user', async () => {
    const [a, b, c] = await threePods();
    const bobToken = token({ sub: 'bob' });
    const sockets = [await connectV4(urlOf(a), bobToken), await connectV2(urlOf(b), bobToken)];
    const flat = await connectWorkspace(c, bobToken);
    const agent = await connectAgents(b, bobToken);
    const impostor = await connectV4(urlOf(c), token({ sub: 'eve' }));
    expect(await request(impostor, 'join_room', { room_id: 'user:bob' })).toMatchObject({ ok: true });
    const stolen = collect(impostor, 'direct_message');

    const message = { type: 'direct_message', from: 'admin', message: 'Please review the updated document' };
    const arrivals = sockets.map((s) => waitFor(s, 'direct_message'));
    const res = await api(c, 'POST', '/api/v1/ws/users/bob/notify', { auth: { bearer: adminToken() }, body: message });
    expect(res).toEqual({ status: 200, body: { user_id: 'bob', type: 'direct_message', recipients: 4, partial: false, delivered_at: expect.any(String) } });
    for (const payload of await Promise.all(arrivals)) expect(payload).toEqual({ from: 'admin', message: 'Please review the updated document' });
    expect(await flat.next('direct_message')).toEqual(message);
    expect(await agent.next('direct_message')).toEqual({ type: 'direct_message', payload: { from: 'admin', message: 'Please review the updated document' }, timestamp: expect.any(Number) });

    expect((await api(a, 'POST', '/api/v1/ws/users/nobody/notify', { body: { type: 'direct_message' } })).body).toMatchObject({ user_id: 'nobody', recipients: 0 });
    const later = waitFor(impostor, 'direct_message');
    await api(a, 'POST', '/api/v1/ws/users/eve/notify', { body: { type: 'direct_message', to: 'eve' } });
    expect(await later).toEqual({ to: 'eve' });
    expect(stolen).toEqual([{ to: 'eve' }]);
  });

  it('reports every pod in the detailed stats: connections by transport and dialect, rooms, messages, errors, rate limits, event-loop delay', async () => {
    const [a, b, c] = await threePods();
    const v4 = await connectV4(urlOf(a), token({ sub: 'alice' }));
    const v2 = await connectV2(urlOf(b), token({ sub: 'bob' }));
    await request(v4, 'join_room', { room_id: 'stats_room' });
    await request(v2, 'join_room', { room_id: 'stats_room' });
    expect(await request(v4, 'join_room', { room_id: '' })).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    await workspaceIn(c, 'carol', 'stats_room');
    await chatIn(c, 'dave', 'stats_room');

    const res = await api(b, 'GET', '/api/v1/ws/stats/detailed');
    expect(res.status).toBe(200);
    const { pods, partial } = res.body;
    expect(partial).toBe(false);
    expect(pods.map((p: any) => p.pod)[0]).toBe(b.config.podId);
    const byPod = Object.fromEntries(pods.map((p: any) => [p.pod, p]));
    expect(Object.keys(byPod).sort()).toEqual([a, b, c].map((g) => g.config.podId).sort());

    const podA = byPod[a.config.podId];
    expect(podA.connections).toEqual({ total: 1, by_transport: { eio4: 1 }, by_dialect: { 'socket.io': 1 } });
    expect(podA.rooms).toBe(1);
    expect(podA.messages.received).toMatchObject({ join_room: 2 });
    expect(podA.errors).toMatchObject({ INVALID_MESSAGE: 1 });
    expect(podA.rate_limited).toEqual({ total: 0, by_class_and_scope: {} });
    expect(podA.sockets_by_namespace['/']).toBe(1);
    expect(byPod[b.config.podId].connections).toEqual({ total: 1, by_transport: { eio3: 1 }, by_dialect: { 'socket.io': 1 } });
    expect(byPod[c.config.podId].connections).toEqual({
      total: 2,
      by_transport: { 'native:/api/v1/ws': 1, 'native:/api/chat/ws': 1 },
      by_dialect: { '/api/v1/ws': 1, '/api/chat/ws': 1 },
    });
    expect(byPod[c.config.podId].messages.sent.room_state).toBeGreaterThan(0);
    for (const pod of pods) {
      expect(pod.event_loop_delay_ms).toEqual({ mean: expect.any(Number), p50: expect.any(Number), p99: expect.any(Number), max: expect.any(Number), window_seconds: expect.any(Number) });
      expect(pod.uptime_seconds).toBeGreaterThanOrEqual(0);
      expect(pod.memory_rss_bytes).toBeGreaterThan(0);
    }
  });

  it('closes a connection on whichever pod holds it, by connection or socket id; 404 when no pod does', async () => {
    const [a, b, c] = await threePods();
    const v4 = await connectV4(urlOf(b), token({ sub: 'alice' }));
    const v4Tab = await connectV4(urlOf(c), token({ sub: 'alice' }), { namespace: '/workspace' });
    const v2 = await connectV2(urlOf(b), token({ sub: 'bob' }));
    const agent = await connectAgents(c, token({ sub: 'carol' }));
    const flat = await connectWorkspace(b, token({ sub: 'dave' }));

    // A v4 client by its Engine.IO connection id: told why, then the connection closes.
    const told = waitFor(v4, 'error');
    const gone = waitFor(v4, 'disconnect');
    // Read before the request: once closed, the client forgets its connection id.
    const v4ConnectionId: string = (v4 as any).io.engine.id;
    const byConnection = await api(a, 'DELETE', `/api/v1/ws/connections/${v4ConnectionId}`, { auth: { bearer: adminToken() } });
    expect(byConnection).toEqual({ status: 200, body: { connection_id: v4ConnectionId, pod: b.config.podId } });
    expect(await told).toMatchObject({ code: 'PERMISSION_DENIED', error: 'Closed by an administrator' });
    expect(await gone).toBe('transport close');

    // A v4 client by the socket id it knows (here of a namespace other than `/`).
    const tabGone = waitFor(v4Tab, 'disconnect');
    const socketId = v4Tab.id!;
    expect((await api(a, 'DELETE', `/api/v1/ws/connections/${encodeURIComponent(socketId)}`)).body).toEqual({ connection_id: socketId, pod: c.config.podId });
    expect(await tabGone).toBe('transport close');

    // A v2 client by its id (the connection id for `/`).
    const legacyGone = waitFor(v2, 'disconnect');
    expect((await api(c, 'DELETE', `/api/v1/ws/connections/${v2.id}`)).body).toMatchObject({ pod: b.config.podId });
    expect(await legacyGone).toBe('transport close');

    // A native seed 001 client by the connection_id it was given: its error frame, then close 1008.
    const connectionId = agent.received.find((f) => f.type === 'connection_established').payload.connection_id;
    expect((await api(b, 'DELETE', `/api/v1/ws/connections/${connectionId}`)).body).toEqual({ connection_id: connectionId, pod: c.config.podId });
    expect(await agent.next('error')).toMatchObject({ payload: { code: 'PERMISSION_DENIED', error: 'Closed by an administrator' } });
    expect(await agent.closed).toEqual({ code: 1008, reason: 'Closed by an administrator' });

    // Nobody holds it: 404, and nothing else was closed.
    const unknown = await api(a, 'DELETE', '/api/v1/ws/connections/ws_user_123_1642161000');
    expect(unknown).toMatchObject({ status: 404, body: { code: 'ROOM_NOT_FOUND', connection_id: 'ws_user_123_1642161000' } });
    flat.send({ type: 'ping' });
    expect(await flat.next('pong')).toMatchObject({ type: 'pong' });
  });

  it('drains only the pod that receives the shutdown; the others keep serving', async () => {
    const [a, b, c] = await threePods();
    const onA = await connectV4(urlOf(a), token({ sub: 'alice' }));
    const onB = await connectV2(urlOf(b), token({ sub: 'bob' }));
    const onC = await connectV4(urlOf(c), token({ sub: 'carol' }));
    const flatOnC = await workspaceIn(c, 'dave', 'after');
    for (const s of [onA, onB, onC]) await request(s, 'join_room', { room_id: 'after' });

    const cDisconnected = waitFor(onC, 'disconnect');
    const res = await api(c, 'POST', '/api/v1/ws/shutdown', { auth: { bearer: adminToken() } });
    expect(res).toEqual({ status: 202, body: { pod: c.config.podId, draining: true } });
    await c.closed;
    expect(await cDisconnected).toBe('transport close');
    expect((await flatOnC.closed).code).toBe(1001);
    await expect(fetch(urlOf(c, '/healthz'))).rejects.toThrow();

    // A and B still serve: REST, and broadcasts between their clients.
    expect(onA.connected && onB.connected).toBe(true);
    const arrivals = [waitFor(onA, 'still_here'), waitFor(onB, 'still_here')];
    const after = await api(b, 'POST', '/api/v1/ws/rooms/after/broadcast', { body: { type: 'still_here' } });
    expect(after.body).toMatchObject({ recipients: 2, partial: false });
    await Promise.all(arrivals);
    expect((await api(a, 'GET', '/api/v1/ws/stats/detailed')).body.pods).toHaveLength(2);
  });

  it('takes an admin JWT or the service key; refuses a wrong key (401), a non-admin JWT (403) and no credentials (401) on every route', async () => {
    const [a] = await threePods();
    const member = await connectV4(urlOf(a), token({ sub: 'alice' }));
    await request(member, 'join_room', { room_id: 'guarded' });
    const leaked = collect(member, 'leak');
    const routes: Array<[string, string, unknown?]> = [
      ['POST', '/api/v1/ws/rooms/guarded/broadcast', { type: 'leak' }],
      ['POST', '/api/v1/ws/users/alice/notify', { type: 'leak' }],
      ['GET', '/api/v1/ws/stats/detailed'],
      ['DELETE', '/api/v1/ws/connections/whatever'],
      ['POST', '/api/v1/ws/shutdown'],
      ['GET', '/api/v1/ws/stats'],
    ];
    for (const [method, path, body] of routes) {
      const refused = async (auth: Auth) => (await api(a, method, path, { body, auth })).body;
      expect({ path, body: await refused({ key: 'b'.repeat(32) }) }).toMatchObject({ path, body: { code: 'AUTHENTICATION_FAILED', error: 'Invalid API key' } });
      expect((await api(a, method, path, { body, auth: { key: 'short' } })).status).toBe(401);
      expect((await api(a, method, path, { body, auth: { bearer: token({ sub: 'alice', roles: ['editor'] }) } })).status).toBe(403);
      expect((await api(a, method, path, { body, auth: 'none' })).status).toBe(401);
      expect((await api(a, method, path, { body, auth: { bearer: 'not-a-jwt' } })).status).toBe(401);
    }
    expect(leaked).toEqual([]);
    // Both methods are accepted.
    expect((await api(a, 'GET', '/api/v1/ws/stats/detailed', { auth: { key: API_KEY } })).status).toBe(200);
    expect((await api(a, 'GET', '/api/v1/ws/stats/detailed', { auth: { bearer: adminToken() } })).status).toBe(200);
    // A pod without ADMIN_API_KEY takes no key at all.
    const keyless = await startGateway();
    expect((await api(keyless, 'GET', '/api/v1/ws/stats/detailed', { auth: { key: API_KEY } })).status).toBe(401);
    expect((await api(keyless, 'GET', '/api/v1/ws/stats/detailed', { auth: { bearer: adminToken() } })).status).toBe(200);
  });

  it('refuses bad input on every route with the issue paths, delivers nothing, and keeps serving', async () => {
    const [a, b] = await threePods();
    const member = await connectV4(urlOf(b), token({ sub: 'alice' }));
    await request(member, 'join_room', { room_id: 'r' });
    // What the member receives besides the gateway's own presence pushes.
    const seen: string[] = [];
    member.onAny((event) => {
      if (!['room_state', 'user_joined', 'user_left'].includes(event)) seen.push(event);
    });

    const issues = (res: { status: number; body: any }) => ({ status: res.status, code: res.body.code, paths: res.body.issues?.map((i: any) => i.path) });
    const post = (path: string, body: unknown) => api(a, 'POST', path, { body });
    for (const path of ['/api/v1/ws/rooms/r/broadcast', '/api/v1/ws/users/alice/notify']) {
      expect(issues(await post(path, { title: 'no type' }))).toEqual({ status: 400, code: 'INVALID_MESSAGE', paths: ['type'] });
      expect(issues(await post(path, { type: 'Not-Snake' }))).toEqual({ status: 400, code: 'INVALID_MESSAGE', paths: ['type'] });
      expect(issues(await post(path, { type: 42 }))).toEqual({ status: 400, code: 'INVALID_MESSAGE', paths: ['type'] });
      for (const reserved of ['disconnect', 'connect', 'error', 'ping']) expect(issues(await post(path, { type: reserved }))).toEqual({ status: 400, code: 'INVALID_MESSAGE', paths: ['type'] });
      expect(issues(await post(path, [{ type: 'in_array' }]))).toEqual({ status: 400, code: 'INVALID_MESSAGE', paths: [''] });
      expect(await api(a, 'POST', path, { raw: '{"type": "x",' })).toMatchObject({ status: 400, body: { code: 'INVALID_JSON' } });
      expect(await api(a, 'POST', path, { raw: '"just a string"' })).toMatchObject({ status: 400, body: { code: 'INVALID_JSON' } });
      expect(await api(a, 'POST', path, { raw: 'type=x', contentType: 'application/x-www-form-urlencoded' })).toMatchObject({ status: 400, body: { code: 'INVALID_MESSAGE' } });
      expect(await api(a, 'POST', path)).toMatchObject({ status: 400, body: { code: 'INVALID_MESSAGE' } });
      let deep: unknown = { leaf: true };
      for (let i = 0; i < 40; i++) deep = { deep };
      expect(await post(path, { type: 'too_deep', deep })).toMatchObject({ status: 400, body: { code: 'INVALID_MESSAGE' } });
      expect(await post(path, { type: 'too_big', blob: 'x'.repeat(BODY_LIMIT) })).toMatchObject({ status: 413, body: { code: 'MESSAGE_TOO_LARGE' } });
    }
    expect(issues(await post(`/api/v1/ws/rooms/${'r'.repeat(129)}/broadcast`, { type: 'ok_type' }))).toEqual({ status: 400, code: 'INVALID_MESSAGE', paths: ['room_id'] });
    expect(issues(await post('/api/v1/ws/rooms/bad%01room/broadcast', { type: 'ok_type' }))).toEqual({ status: 400, code: 'INVALID_MESSAGE', paths: ['room_id'] });
    expect(issues(await post(`/api/v1/ws/users/${'u'.repeat(257)}/notify`, { type: 'ok_type' }))).toEqual({ status: 400, code: 'INVALID_MESSAGE', paths: ['user_id'] });
    expect(issues(await api(a, 'DELETE', `/api/v1/ws/users/${'u'.repeat(257)}/connections`))).toEqual({ status: 400, code: 'INVALID_MESSAGE', paths: ['user_id'] });
    expect(issues(await api(a, 'DELETE', '/api/v1/ws/connections/not%20an%20id!'))).toEqual({ status: 400, code: 'INVALID_MESSAGE', paths: ['connection_id'] });
    expect(issues(await api(a, 'DELETE', `/api/v1/ws/connections/${'c'.repeat(129)}`))).toEqual({ status: 400, code: 'INVALID_MESSAGE', paths: ['connection_id'] });

    // Nothing reached the member; the first thing it gets is the good broadcast after all that.
    const good = waitFor(member, 'all_good');
    expect((await post('/api/v1/ws/rooms/r/broadcast', { type: 'all_good', n: 1 })).body).toMatchObject({ recipients: 1 });
    expect(await good).toEqual({ n: 1 });
    expect(seen).toEqual(['all_good']);
    for (const gw of [a, b]) expect((await fetch(urlOf(gw, '/healthz'))).status).toBe(200);
  });
});
