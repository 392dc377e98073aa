import { startGateway, stopGateways } from './support/gateway';
import {
  closeNatives,
  connectAgents,
  connectCalculations,
  connectLearning,
  connectStreaming,
  connectWorkspace,
  Endpoints,
  openNative,
  wsUrl,
} from './support/native';
import { token } from './support/tokens';

afterEach(async () => {
  closeNatives();
  await stopGateways();
});

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);

describe('/api/v1/ws (seed 002): flat {type, ...fields} both ways', () => {
  it('joins a room and gets room_state, answers ping, and reports errors in the seed error frame', async () => {
    const gw = await startGateway();
    const ws = await connectWorkspace(gw, token({ sub: 'user_1', name: 'john_doe' }));
    ws.send({ type: 'join_room', room_id: 'workspace_123' });
    expect(await ws.next('room_state')).toEqual({
      type: 'room_state',
      room_id: 'workspace_123',
      users: [
        {
          user_id: 'user_1',
          username: 'john_doe',
          email: 'user_1@example.com',
          room: 'workspace_123',
          status: 'online',
          cursor: null,
          last_seen: ISO,
        },
      ],
      active_sheets: [],
      total_users: 1,
    });

    ws.send({ type: 'launch_missiles' });
    expect(await ws.next('error')).toEqual({
      type: 'error',
      error: 'Unsupported message type: launch_missiles',
      code: 'UNKNOWN_MESSAGE_TYPE',
      message_type: 'launch_missiles',
      timestamp: ISO,
    });
    ws.send({ type: 'leave_room', room_id: 'elsewhere' });
    expect(await ws.next('error')).toMatchObject({ code: 'NOT_IN_ROOM', room_id: 'elsewhere', message_type: 'leave_room' });
    ws.send({ type: 'join_room', room_id: 42 });
    expect(await ws.next('error')).toMatchObject({ code: 'INVALID_MESSAGE', issues: [{ path: 'room_id' }] });
    ws.send({ type: 'ping' });
    expect(await ws.next('pong')).toEqual({ type: 'pong', timestamp: ISO });
  });

  it('takes the token from an Authorization: Bearer header', async () => {
    const gw = await startGateway();
    const ws = await openNative(wsUrl(gw, Endpoints.workspace), { headers: { Authorization: `Bearer ${token({ sub: 'bearer-user' })}` } });
    ws.send({ type: 'join_room', room_id: 'r' });
    const state = await ws.next('room_state');
    expect(state.users.map((u: { user_id: string }) => u.user_id)).toEqual(['bearer-user']);
  });
});

describe('/ws (seed 001): {type, payload, timestamp, correlation_id}', () => {
  it('greets with connection_established, keeps correlation ids on replies and errors, and sends heartbeats', async () => {
    const gw = await startGateway({ NATIVE_HEARTBEAT_MS: '200' });
    const ws = await openNative(wsUrl(gw, Endpoints.agents, { token: token({ sub: 'agent-user', name: 'Agent User' }) }));
    const hello = await ws.next('connection_established');
    expect(hello).toEqual({
      type: 'connection_established',
      payload: {
        connection_id: expect.any(String),
        user_id: 'agent-user',
        username: 'Agent User',
        server_time: expect.any(Number),
        heartbeat_interval: 200,
        max_message_size: 65536,
      },
      timestamp: expect.any(Number),
    });
    expect(Math.abs(hello.timestamp - Date.now() / 1000)).toBeLessThan(60);

    ws.send({ type: 'ping', payload: {}, timestamp: Date.now() / 1000, correlation_id: 'c-1' });
    expect(await ws.next('pong')).toMatchObject({ type: 'pong', correlation_id: 'c-1', timestamp: expect.any(Number) });

    ws.send({ type: 'join_room', payload: { room_id: 'agents' }, timestamp: Date.now() / 1000, correlation_id: 'c-2' });
    expect(await ws.next('ack')).toEqual({
      type: 'ack',
      payload: { message_type: 'join_room', room_id: 'agents' },
      timestamp: expect.any(Number),
      correlation_id: 'c-2',
    });
    const state = await ws.next('room_state');
    expect(state).toEqual({ type: 'room_state', payload: expect.objectContaining({ room_id: 'agents', total_users: 1 }), timestamp: expect.any(Number) });

    ws.send({ type: 'leave_room', payload: { room_id: 'nowhere' }, correlation_id: 'c-3' });
    expect(await ws.next('error')).toEqual({
      type: 'error',
      payload: {
        code: 'NOT_IN_ROOM',
        error: 'Not in room nowhere',
        timestamp: expect.any(Number),
        recoverable: true,
        help: 'Join the room first with join_room',
        message_type: 'leave_room',
        room_id: 'nowhere',
      },
      timestamp: expect.any(Number),
      correlation_id: 'c-3',
    });
    // The seed's frontend sends the correlation_id inside the payload.
    ws.send({ type: 'status_update', payload: { status: 'away', correlation_id: 'c-4' } });
    expect(await ws.next('ack')).toMatchObject({ payload: { message_type: 'status_update', status: 'away' }, correlation_id: 'c-4' });
    ws.send({ type: 'user_message', payload: { content: 'hi' } });
    // Served once AI_UPSTREAM_URL is set (tests/ai-streams-*); without it, the variable is named.
    expect((await ws.next('error')).payload).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', error: expect.stringContaining('AI_UPSTREAM_URL'), recoverable: true, message_type: 'user_message' });
    expect(await ws.next('heartbeat')).toEqual({ type: 'heartbeat', payload: { server_time: expect.any(Number) }, timestamp: expect.any(Number) });
  });

  it('answers malformed frames with INVALID_JSON / INVALID_MESSAGE in its error envelope and stays open', async () => {
    const gw = await startGateway();
    const ws = await connectAgents(gw, token({ sub: 'a' }));
    ws.send('{not json');
    expect((await ws.next('error')).payload).toMatchObject({ code: 'INVALID_JSON', recoverable: true });
    ws.send({ payload: {}, correlation_id: 7 });
    expect(await ws.next('error')).toMatchObject({ payload: { code: 'INVALID_MESSAGE', error: 'Message has no "type" string' }, correlation_id: 7 });
    ws.send({ type: 'ping' });
    expect(await ws.next('pong')).toMatchObject({ type: 'pong' });
  });
});

describe('/api/websockets/ws/{token} (seed 000): untyped calculation requests, {status, ...} replies', () => {
  it('answers a calculation with status error and a clear reason while no backend is configured', async () => {
    const gw = await startGateway();
    const ws = await connectCalculations(gw, token({ sub: 'astro' }));
    ws.send({ chart_id: 'chart-123', calculation_type: 'positions', parameters: { planets: ['SUN', 'MOON'] } });
    expect(await ws.next((f) => f.status !== undefined)).toEqual({
      status: 'error',
      message: 'No calculation backend is configured on this gateway (set CALCULATIONS_URL): cannot compute positions for chart chart-123',
      code: 'UPSTREAM_UNAVAILABLE',
      calculation_type: 'positions',
      chart_id: 'chart-123',
    });
    ws.send({ chart_id: 'chart-9', calculation_type: 'tarot', parameters: {} });
    expect(await ws.next((f) => f.status !== undefined)).toMatchObject({
      status: 'error',
      code: 'INVALID_MESSAGE',
      calculation_type: 'tarot',
      chart_id: 'chart-9',
      message: expect.stringContaining('calculation_type'),
    });
    ws.send({ type: 'join_room', room_id: 'r' });
    expect(await ws.next((f) => f.status !== undefined)).toMatchObject({ status: 'error', code: 'UNKNOWN_MESSAGE_TYPE' });
    ws.send('[1,2');
    expect(await ws.next((f) => f.status !== undefined)).toMatchObject({ status: 'error', code: 'INVALID_JSON' });
  });

  it('keeps one connection per user: a second one closes the first with 1008 and a reason', async () => {
    const gw = await startGateway();
    const first = await connectCalculations(gw, token({ sub: 'astro' }));
    const other = await connectCalculations(gw, token({ sub: 'someone-else' }));
    const second = await connectCalculations(gw, token({ sub: 'astro' }));
    expect(await first.closed).toEqual({ code: 1008, reason: 'Replaced by a newer connection of the same user' });
    second.send({ chart_id: 'c', calculation_type: 'houses' });
    expect(await second.next((f) => f.status !== undefined)).toMatchObject({ status: 'error', chart_id: 'c' });
    other.send({ type: 'ping' });
    expect(await other.next('pong')).toMatchObject({ type: 'pong' });
  });
});

describe('/api/streaming/ws (seed 003): first-message auth, {type, data, subscription_id, timestamp, metadata}', () => {
  it('authenticates, subscribes with validated filters, unsubscribes, and wraps deliveries', async () => {
    const gw = await startGateway();
    const ws = await openNative(wsUrl(gw, Endpoints.streaming));
    ws.send({ type: 'auth', data: { token: token({ sub: 'analyst' }) } });
    const auth = await ws.next('auth_success');
    expect(auth).toEqual({ type: 'auth_success', data: { client_id: expect.any(String), user_id: 'analyst' }, timestamp: ISO });

    ws.send({ type: 'subscribe', data: { type: 'events', filters: { event_type: 'user_action', 'payload.user_id': ['user123', 'user456'] } } });
    const subscribed = await ws.next('subscribed');
    expect(subscribed).toEqual({
      type: 'subscribed',
      data: { subscription_id: subscribed.subscription_id, type: 'events', filters: { event_type: 'user_action', 'payload.user_id': ['user123', 'user456'] } },
      subscription_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      timestamp: ISO,
    });

    gw.io.to('stream:events').emit('data', {
      subscription_id: subscribed.subscription_id,
      data: { subscription_type: 'events', event: { event_id: 'evt_1', event_type: 'user_action' } },
    });
    expect(await ws.next('data')).toEqual({
      type: 'data',
      data: { subscription_type: 'events', event: { event_id: 'evt_1', event_type: 'user_action' } },
      subscription_id: subscribed.subscription_id,
      timestamp: ISO,
    });

    for (const filters of [{ 'user.__proto__.x': 1 }, { nested: { object: true } }, { 'bad..path': 1 }, { empty: [] }]) {
      ws.send({ type: 'subscribe', data: { type: 'events', filters } });
      expect(await ws.next('error')).toMatchObject({ type: 'error', data: { code: 'INVALID_MESSAGE', message_type: 'subscribe', error: expect.stringContaining('filters') } });
    }
    ws.send({ type: 'subscribe', data: { type: 'horoscopes' } });
    expect((await ws.next('error')).data).toMatchObject({ code: 'INVALID_MESSAGE' });

    ws.send({ type: 'unsubscribe', data: { subscription_id: subscribed.subscription_id } });
    expect(await ws.next('unsubscribed')).toMatchObject({ data: { subscription_id: subscribed.subscription_id }, subscription_id: subscribed.subscription_id });
    ws.send({ type: 'unsubscribe', data: { subscription_id: subscribed.subscription_id } });
    expect((await ws.next('error')).data).toMatchObject({ code: 'INVALID_MESSAGE', error: `Unknown subscription ${subscribed.subscription_id}` });
    ws.send({ type: 'ping' });
    expect(await ws.next('pong')).toEqual({ type: 'pong', data: {}, timestamp: ISO });
  });

  it('refuses messages before auth, answers a bad token with auth_failed and 1008, and closes 1008 on auth timeout', async () => {
    // Short enough to wait for, long enough that the clients that do authenticate (in this process,
    // as the gateway is) are not timed out first by a busy machine.
    const gw = await startGateway({ AUTH_TIMEOUT_MS: '1000' });
    const early = await openNative(wsUrl(gw, Endpoints.streaming));
    early.send({ type: 'subscribe', data: { type: 'metrics' } });
    expect(await early.next('error')).toMatchObject({ data: { code: 'AUTHENTICATION_FAILED' } });
    expect(await early.closed).toEqual({ code: 1008, reason: 'Authentication timeout' });

    const bad = await openNative(wsUrl(gw, Endpoints.streaming));
    bad.send({ type: 'auth', data: { token: 'not-a-jwt' } });
    expect(await bad.next('auth_failed')).toEqual({ type: 'auth_failed', data: { error: 'Invalid token', code: 'AUTHENTICATION_FAILED' }, timestamp: ISO });
    expect(await bad.closed).toEqual({ code: 1008, reason: 'Invalid token' });

    const ok = await connectStreaming(gw, token({ sub: 'late' }));
    ok.send({ type: 'auth', data: { token: token({ sub: 'late' }) } });
    expect(await ok.next('auth_success')).toMatchObject({ data: { user_id: 'late' } });
    ok.send({ type: 'auth', data: { token: token({ sub: 'intruder' }) } });
    expect(await ok.next('auth_failed')).toMatchObject({ data: { error: 'Token is for another user' } });
    expect(await ok.closed).toEqual({ code: 1008, reason: 'Token is for another user' });
  });
});

describe('/api/{chat,analytics,collaboration}/ws (seed 004): {type, id, timestamp, data, error}', () => {
  it('joins the contextId room and serves chat: message, typing, history', async () => {
    const gw = await startGateway();
    const alice = await connectLearning(gw, Endpoints.chat, token({ sub: 'alice', name: 'Alice' }), 'context_123');
    const bob = await openNative(wsUrl(gw, Endpoints.chat));
    bob.send({ type: 'auth', token: token({ sub: 'bob', name: 'Bob' }), contextId: 'context_123' });
    expect(await bob.next('auth_success')).toEqual({
      type: 'auth_success',
      id: expect.any(String),
      timestamp: ISO,
      data: { userId: 'bob', username: 'Bob', contextId: 'context_123' },
    });
    expect(await alice.next((f) => f.type === 'user_joined' && f.data.userId === 'bob')).toMatchObject({ type: 'user_joined', data: { username: 'Bob' } });
    await bob.next((f) => f.type === 'room_state' && f.data.total_users === 2);

    alice.send({ type: 'message', data: { content: 'Hello, everyone!', messageType: 'text' } });
    const received = await bob.next('message');
    expect(received).toEqual({
      type: 'message',
      id: expect.any(String),
      timestamp: ISO,
      data: expect.objectContaining({ content: 'Hello, everyone!', messageType: 'text', room_id: 'context_123', author: { userId: 'alice', username: 'Alice' } }),
    });
    bob.send({ type: 'typing', data: { isTyping: true } });
    expect((await alice.next('typing')).data).toEqual({ userId: 'bob', username: 'Bob', isTyping: true, room_id: 'context_123' });

    bob.send({ type: 'history', data: { limit: 50 } });
    const history = await bob.next('history');
    expect(history.data.messages.map((m: { content: string }) => m.content)).toEqual(['Hello, everyone!']);

    alice.send({ type: 'history', id: 'req-1', data: { limit: 0 } });
    expect(await alice.next('error')).toMatchObject({ type: 'error', id: 'req-1', error: expect.stringContaining('limit'), data: { code: 'INVALID_MESSAGE', message_type: 'history' } });
    alice.send({ type: 'message', id: 'req-2', data: { content: 'with an id' } });
    expect(await alice.next('ack')).toEqual({ type: 'ack', id: 'req-2', timestamp: ISO, data: { message_type: 'message', id: expect.any(String), timestamp: ISO } });
  });

  it('maps analytics subscribe {metrics} to subscribe_metrics and answers with the subscription id', async () => {
    const gw = await startGateway();
    const ws = await connectLearning(gw, Endpoints.analytics, token({ sub: 'teacher' }), 'context_123');
    ws.send({ type: 'subscribe', data: { metrics: ['engagement', 'performance', 'activity'] } });
    const subscribed = await ws.next('subscribed');
    expect(subscribed.data).toEqual({
      subscription_id: expect.any(String),
      type: 'metrics',
      filters: { metric: ['engagement', 'performance', 'activity'] },
      metrics: ['engagement', 'performance', 'activity'],
    });
    gw.io.to('stream:metrics').emit('metric_update', { metric: 'engagement', value: 0.8, timestamp: new Date().toISOString() });
    expect(await ws.next('metric_update')).toMatchObject({ data: { metric: 'engagement', value: 0.8 } });
  });

  it('serves collaboration sessions and versioned edits', async () => {
    const gw = await startGateway();
    const a = await connectLearning(gw, Endpoints.collaboration, token({ sub: 'a', name: 'A' }));
    const b = await connectLearning(gw, Endpoints.collaboration, token({ sub: 'b', name: 'B' }));
    a.send({ type: 'join_session', data: { sessionId: 'session_123', role: 'participant' } });
    expect(await a.next('session_state')).toMatchObject({ data: { sessionId: 'session_123', version: 0 } });
    b.send({ type: 'join_session', data: { sessionId: 'session_123', role: 'participant' } });
    await b.next('session_state');
    a.send({ type: 'edit', data: { operation: 'insert', position: 42, content: 'Hello World', version: 0 } });
    expect(await b.next('edit')).toMatchObject({ data: { operation: 'insert', position: 42, content: 'Hello World', version: 1, author: { userId: 'a' } } });
    b.send({ type: 'edit', data: { operation: 'insert', position: 1, content: 'x', version: 0 } });
    expect(await b.next('error')).toMatchObject({ data: { code: 'VERSION_CONFLICT', currentVersion: 1 } });
  });
});
