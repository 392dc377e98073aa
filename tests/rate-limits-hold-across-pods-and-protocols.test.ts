import { collect, connectV2, connectV4, refusedV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';
import { closeNatives, connectAgents, connectCalculations, connectLearning, connectStreaming, connectWorkspace, Endpoints, openNative, refusedNative, wsUrl } from './support/native';
import { token } from './support/tokens';

cleanUpAfterEach();
afterEach(() => closeNatives());
const redis = useRedis();

const RATE = 'RATE_LIMIT_EXCEEDED';
let n = 0;
/** A user id of its own per test: the file's Redis keeps counters between tests. */
const user = (name: string) => `${name}-${++n}`;

const twoPods = (env: Record<string, string>) => Promise.all([startGateway({ REDIS_URL: redis.url, ...env }), startGateway({ REDIS_URL: redis.url, ...env })]);

describe('request budgets per user, shared by every pod', () => {
  it("counts a user's requests on pod B against the same budget as those on pod A, then blocks", async () => {
    const [a, b] = await twoPods({ WEBSOCKET_REQUESTS_PER_MINUTE: '5' });
    const sub = user('ann');
    const onA = await connectV4(urlOf(a), token({ sub }));
    const onB = await connectV2(urlOf(b), token({ sub }));
    for (const room of ['r1', 'r2', 'r3']) expect(await request(onA, 'join_room', { room_id: room })).toEqual({ ok: true, room_id: room });
    for (const room of ['r4', 'r5']) expect(await request(onB, 'join_room', { room_id: room })).toEqual({ ok: true, room_id: room });

    // The sixth, on pod B: refused, and the user is blocked for WEBSOCKET_BLOCK_DURATION_MINUTES (15).
    const refused = await request(onB, 'join_room', { room_id: 'r6' });
    expect(refused).toEqual({ ok: false, error: { code: RATE, message: expect.stringMatching(/^Rate limit exceeded/), retry_after_ms: expect.any(Number), scope: 'user' } });
    expect(refused.error.retry_after_ms).toBeGreaterThan(14 * 60_000);
    // Without an ack callback the refusal is the `error` event (seed 002's shape), on pod A too.
    const error = waitFor(onA, 'error');
    onA.emit('leave_room', { room_id: 'r1' });
    expect(await error).toMatchObject({ type: 'error', code: RATE, message_type: 'leave_room', retry_after_ms: expect.any(Number) });
    // While blocked, the user's new connections are refused at the door, on every pod and protocol.
    expect((await refusedV4(urlOf(a), token({ sub }))).data).toMatchObject({ code: RATE, retry_after_ms: expect.any(Number) });
    expect(await refusedNative(wsUrl(a, Endpoints.workspace, { token: token({ sub }) }))).toEqual({
      code: 1008,
      reason: 'Rate limit exceeded: blocked, try again later',
      frames: [],
    });
    // Another user is not affected.
    const other = await connectV4(urlOf(b), token({ sub: user('bob') }));
    expect(await request(other, 'join_room', { room_id: 'r1' })).toMatchObject({ ok: true });
  });

  it('counts an hour budget too, and leaves stream and control messages out of the request budget', async () => {
    const gw = await startGateway({ REDIS_URL: redis.url, WEBSOCKET_REQUESTS_PER_MINUTE: '100', WEBSOCKET_REQUESTS_PER_HOUR: '3' });
    const sub = user('hour');
    const socket = await connectV4(urlOf(gw), token({ sub }));
    for (let i = 0; i < 3; i++) expect(await request(socket, 'join_room', { room_id: `h${i}` })).toMatchObject({ ok: true });
    const watcher = await connectV4(urlOf(gw), token({ sub: user('watch') }));
    await request(watcher, 'join_room', { room_id: 'h0' });
    // Cursor moves are not requests: they still go out.
    const moved = waitFor(watcher, 'cursor_moved');
    socket.emit('cursor_move', { room: 'h0', x: 1, y: 2 });
    expect(await moved).toMatchObject({ room_id: 'h0', cursor: { x: 1, y: 2 } });
    const refused = await request(socket, 'join_room', { room_id: 'h3' });
    expect(refused.error).toMatchObject({ code: RATE, scope: 'user' });
    expect(refused.error.retry_after_ms).toBeGreaterThan(60_000);
    // refresh_token is control-class: still answered.
    expect(await request(socket, 'refresh_token', { token: token({ sub }) })).toMatchObject({ ok: true, user_id: sub });
  });
});

describe('per-connection budgets answer in every protocol', () => {
  it('refuses the request over CONNECTION_REQUESTS_PER_MINUTE with RATE_LIMIT_EXCEEDED in each dialect', async () => {
    const gw = await startGateway({ CONNECTION_REQUESTS_PER_MINUTE: '2' });
    const refusedAck = { ok: false, error: expect.objectContaining({ code: RATE, scope: 'connection', retry_after_ms: expect.any(Number) }) };

    const v4 = await connectV4(urlOf(gw), token({ sub: user('v4') }));
    await request(v4, 'join_room', { room_id: 'a' });
    await request(v4, 'join_room', { room_id: 'b' });
    expect(await request(v4, 'join_room', { room_id: 'c' })).toEqual(refusedAck);

    const v2 = await connectV2(urlOf(gw), token({ sub: user('v2') }));
    await request(v2, 'join_room', { room_id: 'a' });
    await request(v2, 'join_room', { room_id: 'b' });
    expect(await request(v2, 'join_room', { room_id: 'c' })).toEqual(refusedAck);

    // Seed 002: the flat error frame.
    const workspace = await connectWorkspace(gw, token({ sub: user('ws') }));
    for (const room of ['a', 'b', 'c']) workspace.send({ type: 'join_room', room_id: room });
    expect(await workspace.next('error')).toMatchObject({ code: RATE, message_type: 'join_room', retry_after_ms: expect.any(Number) });

    // Seed 001: the error envelope with the request's correlation_id, recoverable, and help.
    const agents = await connectAgents(gw, token({ sub: user('agent') }));
    for (const [i, room] of ['a', 'b', 'c'].entries()) agents.send({ type: 'join_room', payload: { room_id: room }, correlation_id: `c${i}` });
    expect(await agents.next((f) => f.type === 'error' && f.correlation_id === 'c2')).toMatchObject({
      payload: { code: RATE, recoverable: true, help: expect.any(String), retry_after_ms: expect.any(Number) },
    });

    // Seed 003: {type: "error", data: {error, code}}.
    const streaming = await connectStreaming(gw, token({ sub: user('stream') }));
    for (let i = 0; i < 3; i++) streaming.send({ type: 'subscribe', data: { type: 'events' } });
    expect(await streaming.next('error')).toMatchObject({ data: { code: RATE, error: expect.stringMatching(/^Rate limit exceeded/) } });

    // Seed 004: {type: "error", id, data: {code}, error} (contextId's join is the first request).
    const chat = await connectLearning(gw, Endpoints.chat, token({ sub: user('chat') }), 'lobby');
    chat.send({ type: 'message', id: 'm1', data: { content: 'one' } });
    chat.send({ type: 'message', id: 'm2', data: { content: 'two' } });
    expect(await chat.next((f) => f.id === 'm1')).toMatchObject({ type: 'ack' });
    expect(await chat.next((f) => f.id === 'm2')).toMatchObject({ type: 'error', data: { code: RATE }, error: expect.stringMatching(/^Rate limit exceeded/) });

    // Seed 000: {status: "error", message, code}.
    const calc = await connectCalculations(gw, token({ sub: user('calc') }));
    for (let i = 0; i < 3; i++) calc.send({ chart_id: `c${i}`, calculation_type: 'positions', parameters: {} });
    expect(await calc.next((f) => f.chart_id === 'c2')).toMatchObject({ status: 'error', code: RATE, message: expect.stringMatching(/^Rate limit exceeded/) });
  });

  it('closes a connection that keeps going over its budget (seed 004: 1008 "Rate limit exceeded")', async () => {
    const gw = await startGateway({ CONNECTION_REQUESTS_PER_MINUTE: '2', RATE_LIMIT_DISCONNECT_AFTER: '3' });
    const chat = await connectLearning(gw, Endpoints.chat, token({ sub: user('flood') }), 'lobby');
    for (let i = 0; i < 50; i++) chat.send({ type: 'message', data: { content: `spam ${i}` } });
    expect(await chat.closed).toEqual({ code: 1008, reason: 'Rate limit exceeded' });
    expect(chat.received.filter((f) => f.type === 'error' && f.data?.code === RATE).length).toBeGreaterThanOrEqual(3);

    const v4 = await connectV4(urlOf(gw), token({ sub: user('flood') }));
    const gone = waitFor(v4, 'disconnect');
    for (let i = 0; i < 50; i++) v4.emit('join_room', { room_id: `x${i}` });
    expect(await gone).toBe('transport close');
  });

  it('drops cursor moves over STREAM_MESSAGES_PER_SECOND silently: no errors, the connection stays', async () => {
    const gw = await startGateway({ STREAM_MESSAGES_PER_SECOND: '5', CURSOR_RATE: '1000' });
    const mover = await connectV4(urlOf(gw), token({ sub: user('mover') }));
    const watcher = await connectV4(urlOf(gw), token({ sub: user('watcher') }));
    await request(mover, 'join_room', { room_id: 'canvas' });
    await request(watcher, 'join_room', { room_id: 'canvas' });
    const errors = collect(mover, 'error');
    const seen = collect(watcher, 'cursor_moved');
    const startedAt = Date.now();
    for (let i = 0; i < 200; i++) mover.emit('cursor_move', { room: 'canvas', x: i, y: 0 });
    // A request after the burst is answered: everything before it was handled or dropped.
    const changed = waitFor(watcher, 'user_status_changed');
    expect(await request(mover, 'status_update', { status: 'away' })).toMatchObject({ ok: true });
    await changed;
    // The budget is 5 per one-second window, a window opening at the first move: the burst, handled
    // within `elapsed`, spans at most floor(elapsed / 1 s) + 1 windows (one, unless the machine is slow).
    const windows = Math.floor((Date.now() - startedAt) / 1000) + 1;
    expect(errors).toEqual([]);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThanOrEqual(5 * windows);
    expect(mover.connected).toBe(true);
  });
});

describe('connection caps', () => {
  it('holds WEBSOCKET_MAX_CONNECTIONS_PER_USER across pods for Socket.IO and native clients', async () => {
    const [a, b] = await twoPods({ WEBSOCKET_MAX_CONNECTIONS_PER_USER: '2' });
    const sub = user('capped');
    const first = await connectV4(urlOf(a), token({ sub }));
    await connectWorkspace(b, token({ sub }));
    // A Socket.IO client's namespaces are one connection: a second namespace on it is not counted.
    const refused = await refusedV4(urlOf(a), token({ sub }));
    expect(refused.data).toMatchObject({ code: 'CONNECTION_LIMIT', message: 'At most 2 connections per user', limit: 2 });
    expect(await refusedNative(wsUrl(b, Endpoints.agents, { token: token({ sub }) }))).toEqual({ code: 1008, reason: 'At most 2 connections per user', frames: [] });
    // Another user is not affected; a closed connection frees its place.
    await connectV4(urlOf(b), token({ sub: user('free') }));
    first.close();
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await connectV4(urlOf(b), token({ sub }));
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });

  it('limits new connections per client address across pods, reading X-Forwarded-For only with TRUST_PROXY', async () => {
    const [a, b] = await twoPods({ CONNECTIONS_PER_IP_PER_MINUTE: '2', TRUST_PROXY: 'true' });
    const from = (ip: string) => ({ extraHeaders: { 'X-Forwarded-For': ip } });
    await connectV4(urlOf(a), token({ sub: user('ip') }), from('203.0.113.7'));
    await openNative(wsUrl(b, Endpoints.workspace, { token: token({ sub: user('ip') }) }), { headers: { 'X-Forwarded-For': '203.0.113.7' } });
    const refused = await refusedV4(urlOf(b), token({ sub: user('ip') }), from('203.0.113.7'));
    expect(refused.data).toMatchObject({ code: 'CONNECTION_LIMIT', retry_after_ms: expect.any(Number) });
    const native = await refusedNative(wsUrl(a, Endpoints.workspace, { token: token({ sub: user('ip') }) }), { headers: { 'X-Forwarded-For': '203.0.113.7' } });
    expect(native.code).toBe(1008);
    await connectV4(urlOf(a), token({ sub: user('ip') }), from('203.0.113.8'));

    // Without TRUST_PROXY the header is ignored: the peer address (127.0.0.1) is what counts.
    const direct = await startGateway({ CONNECTIONS_PER_IP_PER_MINUTE: '1' });
    await connectV4(urlOf(direct), token({ sub: user('ip') }), from('198.51.100.1'));
    expect((await refusedV4(urlOf(direct), token({ sub: user('ip') }), from('198.51.100.2'))).data).toMatchObject({ code: 'CONNECTION_LIMIT' });
  });
});

describe('room broadcast budget', () => {
  it('refuses the broadcast over ROOM_BROADCASTS_PER_MINUTE, across pods, and delivers nothing for it', async () => {
    const [a, b] = await twoPods({ ROOM_BROADCASTS_PER_MINUTE: '3' });
    const alice = await connectV4(urlOf(a), token({ sub: user('alice') }), { namespace: '/chat' });
    const bob = await connectV4(urlOf(b), token({ sub: user('bob') }), { namespace: '/chat' });
    const room = `busy-${n}`;
    await request(alice, 'join_room', { room_id: room });
    await request(bob, 'join_room', { room_id: room });
    const seen = collect(bob, 'message');
    expect(await request(alice, 'message', { content: '1', room_id: room })).toMatchObject({ ok: true });
    expect(await request(bob, 'message', { content: '2', room_id: room })).toMatchObject({ ok: true });
    expect(await request(alice, 'message', { content: '3', room_id: room })).toMatchObject({ ok: true });
    const refused = await request(bob, 'message', { content: '4', room_id: room });
    expect(refused.error).toMatchObject({ code: RATE, scope: 'room', room_id: room, retry_after_ms: expect.any(Number) });
    // Another room has its own budget; the refused message never reached anyone.
    await request(alice, 'join_room', { room_id: `${room}-quiet` });
    expect(await request(alice, 'message', { content: 'elsewhere', room_id: `${room}-quiet` })).toMatchObject({ ok: true });
    await request(bob, 'history', { room_id: room });
    expect(seen.map((m) => m.content)).toEqual(['1', '2', '3']);
  });
});

describe('while Redis is away', () => {
  it('each pod keeps counting on its own (the limits hold per pod) and serves within them', async () => {
    const [a] = await twoPods({ WEBSOCKET_REQUESTS_PER_MINUTE: '3' });
    const socket = await connectV4(urlOf(a), token({ sub: user('outage') }), { namespace: '/streams' });
    await redis.server.kill();
    try {
      const deadline = Date.now() + 10_000;
      while ((await fetch(urlOf(a, '/readyz'))).status !== 503) {
        if (Date.now() > deadline) throw new Error('the pod did not notice Redis going away');
        await new Promise((r) => setTimeout(r, 50));
      }
      for (let i = 0; i < 3; i++) expect(await request(socket, 'subscribe', { type: 'events' })).toMatchObject({ ok: true });
      expect((await request(socket, 'subscribe', { type: 'events' })).error).toMatchObject({ code: RATE, scope: 'user' });
    } finally {
      await redis.server.startProcess();
    }
  });
});
