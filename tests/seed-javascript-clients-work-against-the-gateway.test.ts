/* eslint-disable */
// The JavaScript client code of the seed documents, adapted only in host, port and token: `ws`
// stands in for the browser's WebSocket (same onopen/onmessage/onclose API) and `console` is a
// recorder the assertions read. Each seed snippet keeps its original text inside the functions.
import WebSocket from 'ws';
import { connectV4, request, waitFor } from './support/clients';
import { FakeBackend } from './support/fake-backend';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';
import { closeNatives } from './support/native';
import { freePort } from './support/redis';
import { token as sign } from './support/tokens';

cleanUpAfterEach();
afterEach(() => closeNatives());

/** A console whose lines the test awaits. */
class RecordingConsole {
  readonly lines: Array<{ level: 'log' | 'error'; args: any[] }> = [];
  private waiters: Array<{ match: (args: any[]) => boolean; resolve: (args: any[]) => void }> = [];
  log = (...args: any[]) => this.record('log', args);
  error = (...args: any[]) => this.record('error', args);
  private record(level: 'log' | 'error', args: any[]) {
    this.lines.push({ level, args });
    this.waiters = this.waiters.filter((w) => (w.match(args) ? (w.resolve(args), false) : true));
  }
  /** Resolves with the arguments of the first line (already printed or to come) whose first argument is `first`. */
  next(first: string, second?: unknown, timeoutMs = 5000): Promise<any[]> {
    const match = (args: any[]) => args[0] === first && (second === undefined || args[1] === second);
    const seen = this.lines.find((l) => match(l.args));
    if (seen) return Promise.resolve(seen.args);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`console never printed ${first}; printed: ${JSON.stringify(this.lines)}`)), timeoutMs);
      this.waiters.push({ match, resolve: (args) => (clearTimeout(timer), resolve(args)) });
    });
  }
}

const sockets: WebSocket[] = [];
afterEach(() => sockets.splice(0).forEach((s) => s.terminate()));

describe('seed 002 JavaScript client (/api/v1/ws)', () => {
  it('connects with ?token= and with an Authorization header, joins, and gets room_state and cell_updated', async () => {
    const gw = await startGateway();
    const console = new RecordingConsole();
    const inbox = new RecordingConsole();
    const handleMessage = (message: any) => inbox.log(message.type, message);
    const observer = await connectV4(urlOf(gw), sign({ sub: 'observer' }));
    await request(observer, 'join_room', { room_id: 'workspace_123' });
    const cursor = waitFor(observer, 'cursor_moved');
    const typing = waitFor(observer, 'user_typing_start');
    const status = waitFor(observer, 'user_status_changed');

    // --- seed 002 "WebSocket Connection", "Connection Events", "Message Types and Usage" ---
    const token = sign({ sub: 'user_1', name: 'john_doe' });
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/api/v1/ws?token=${token}`);
    sockets.push(ws);

    // @ts-ignore: the seed code leaves this unused
    ws.onopen = function (event) {
      console.log('Connected to WebSocket');
      ws.send(JSON.stringify({ type: 'join_room', room_id: 'workspace_123' }));
      ws.send(JSON.stringify({ type: 'cursor_move', room: 'workspace_123', x: 150, y: 300, cell: 'B2' }));
      ws.send(
        JSON.stringify({
          type: 'cell_update',
          sheet_id: 'sheet_123',
          cell_id: 'A1',
          value: 'Hello World',
          formula: "=CONCATENATE('Hello', ' ', 'World')",
          version: 0, // the seed's 1642161000000 is "the version the client last saw": a new cell is at 0
        }),
      );
      ws.send(JSON.stringify({ type: 'status_update', status: 'busy' }));
      ws.send(JSON.stringify({ type: 'typing_start', cell_id: 'A1', room: 'workspace_123' }));
    };
    ws.onmessage = function (event) {
      const message = JSON.parse(event.data as string);
      handleMessage(message);
    };
    // @ts-ignore: the seed code leaves this unused
    ws.onclose = function (event) {
      console.log('WebSocket connection closed');
    };
    ws.onerror = function (error) {
      console.error('WebSocket error:', error);
    };
    // --- end of seed code ---

    await console.next('Connected to WebSocket');
    expect(await cursor).toMatchObject({ user_id: 'user_1', username: 'john_doe', cursor: { x: 150, y: 300, cell: 'B2' } });
    expect(await typing).toEqual({ user_id: 'user_1', username: 'john_doe', room_id: 'workspace_123', cell_id: 'A1' });
    await status;
    expect((await inbox.next('room_state'))[1]).toMatchObject({ room_id: 'workspace_123', active_sheets: expect.any(Array) });
    expect((await inbox.next('cell_updated'))[1]).toMatchObject({
      sheet_id: 'sheet_123',
      cell_id: 'A1',
      value: 'Hello World',
      formula: "=CONCATENATE('Hello', ' ', 'World')",
      user_id: 'user_1',
      username: 'john_doe',
      version: 1,
    });
    expect((await inbox.next('user_status_changed'))[1]).toEqual({ type: 'user_status_changed', user_id: 'user_1', status: 'busy', room_id: 'workspace_123' });

    // --- seed 002 "Alternative: Send token in Authorization header" ---
    const ws2 = new WebSocket('ws://127.0.0.1:' + gw.port + '/api/v1/ws', [], {
      headers: {
        Authorization: `Bearer ${token}`,
      },
    });
    sockets.push(ws2);
    // --- end of seed code ---
    const pong = new Promise<any>((resolve) => ws2.on('message', (data) => resolve(JSON.parse(data.toString()))));
    ws2.on('open', () => ws2.send(JSON.stringify({ type: 'ping' })));
    expect(await pong).toMatchObject({ type: 'pong' });
    expect(console.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});

describe('seed 000 JavaScript client (/api/websockets/ws/{token})', () => {
  let backend: FakeBackend;
  beforeEach(async () => {
    backend = await FakeBackend.start();
  });
  afterEach(async () => {
    await backend.close();
  });

  /** The seed's client, run as documented against the gateway on `port`; it logs to `console`. */
  function runSeedClient(port: number, token: string, console: RecordingConsole): WebSocket {
    // --- seed 000 "JavaScript Client" ---
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/websockets/ws/${token}`);
    sockets.push(ws);

    // @ts-ignore: the seed code leaves this unused
    ws.onopen = function (event) {
      console.log('WebSocket connected');
      ws.send(
        JSON.stringify({
          chart_id: 'chart-123',
          calculation_type: 'positions',
          parameters: {
            planets: ['SUN', 'MOON', 'MERCURY', 'VENUS', 'MARS'],
          },
        }),
      );
    };
    ws.onmessage = function (event) {
      const response = JSON.parse(event.data as string);
      if (response.status === 'success') {
        console.log('Calculation result:', response.result);
      } else {
        console.error('Calculation error:', response.message);
      }
    };
    ws.onerror = function (error) {
      console.error('WebSocket error:', error);
    };
    ws.onclose = function (event) {
      console.log('WebSocket closed:', event.code, event.reason);
    };
    // --- end of seed code ---
    return ws;
  }

  it('logs the result the calculation backend computed for the caller', async () => {
    const positions = { SUN: { longitude: 280.4 }, MOON: { longitude: 12.9 } };
    backend.answer('/calculate', { body: positions });
    const gw = await startGateway({ CALCULATIONS_URL: `${backend.url}/calculate` });
    const console = new RecordingConsole();
    const token = sign({ sub: 'astrologer' });
    runSeedClient(gw.port, token, console);

    await console.next('WebSocket connected');
    expect(await console.next('Calculation result:')).toEqual(['Calculation result:', positions]);
    const sent = await backend.request('/calculate');
    expect(sent.headers.authorization).toBe(`Bearer ${token}`);
    expect(sent.headers['x-user-id']).toBe('astrologer');
    expect(sent.body).toEqual({ chart_id: 'chart-123', calculation_type: 'positions', parameters: { planets: ['SUN', 'MOON', 'MERCURY', 'VENUS', 'MARS'] } });

    // A second connection of the same user replaces this one (seed 000's connection manager).
    const again = new WebSocket(`ws://127.0.0.1:${gw.port}/api/websockets/ws/${token}`);
    sockets.push(again);
    expect(await console.next('WebSocket closed:')).toEqual(['WebSocket closed:', 1008, 'Replaced by a newer connection of the same user']);
  });

  it("logs the backend's 403 reason when the chart is not the caller's", async () => {
    backend.answer('/calculate', { status: 403, body: { detail: 'Not authorized to access this chart' } });
    const gw = await startGateway({ CALCULATIONS_URL: `${backend.url}/calculate` });
    const console = new RecordingConsole();
    runSeedClient(gw.port, sign({ sub: 'astrologer' }), console);
    expect(await console.next('Calculation error:')).toEqual(['Calculation error:', 'Not authorized to access this chart']);
  });

  it('logs "Backend unavailable" when the calculation backend is down', async () => {
    const gw = await startGateway({ CALCULATIONS_URL: `http://127.0.0.1:${await freePort()}/calculate` });
    const console = new RecordingConsole();
    runSeedClient(gw.port, sign({ sub: 'astrologer' }), console);
    expect(await console.next('Calculation error:')).toEqual(['Calculation error:', 'Backend unavailable: connection refused']);
  });
});

describe('seed 003 JavaScript StreamingClient (/api/streaming/ws and the root path)', () => {
  const redis = useRedis();

  /** Resolves once `count` pods listen on the streams channel (each subscribes as it starts). */
  async function streamListeners(count: number): Promise<void> {
    const client = await redis.server.client();
    while (((await client.pubSubNumSub('rg:streams'))['rg:streams'] ?? 0) < count) await new Promise((r) => setTimeout(r, 20));
  }

  /** Seed 003's class, verbatim but for the TypeScript field declarations; `console` is the recorder. */
  function defineStreamingClient(console: RecordingConsole) {
    // --- seed 003 "JavaScript Client" (class verbatim) ---
    class StreamingClient {
      url: string;
      token: string;
      subscriptions: Map<string, any>;
      ws!: WebSocket;
      constructor(url: string, token: string) {
        this.url = url;
        this.token = token;
        this.subscriptions = new Map();
        this.connect();
      }
      connect() {
        this.ws = new WebSocket(this.url);
        sockets.push(this.ws);
        this.ws.onopen = () => {
          console.log('Connected to streaming server');
          this.authenticate();
        };
        this.ws.onmessage = (event) => {
          const message = JSON.parse(event.data as string);
          this.handleMessage(message);
        };
        this.ws.onclose = () => {
          console.log('Disconnected from streaming server');
        };
      }
      authenticate() {
        this.send({ type: 'auth', data: { token: this.token } });
      }
      subscribe(type: string, filters = {}) {
        const subscriptionId = this.generateId();
        this.send({ type: 'subscribe', data: { type, filters } });
        return subscriptionId;
      }
      unsubscribe(subscriptionId: string) {
        this.send({ type: 'unsubscribe', data: { subscription_id: subscriptionId } });
        this.subscriptions.delete(subscriptionId);
      }
      send(message: any) {
        if (this.ws.readyState === WebSocket.OPEN) {
          this.ws.send(JSON.stringify(message));
        }
      }
      handleMessage(message: any) {
        switch (message.type) {
          case 'auth_success':
            console.log('Authentication successful');
            break;
          case 'data':
            this.handleData(message);
            break;
          case 'error':
            console.error('Server error:', message.data.error);
            break;
        }
      }
      handleData(message: any) {
        const callback = this.subscriptions.get(message.subscription_id);
        if (callback) {
          callback(message.data);
        }
      }
      generateId() {
        return Math.random().toString(36).substr(2, 9);
      }
    }
    // --- end of seed code ---
    return StreamingClient;
  }

  it('authenticates, subscribes and logs server errors as documented', async () => {
    const gw = await startGateway();
    const console = new RecordingConsole();
    const StreamingClient = defineStreamingClient(console);
    const client = new StreamingClient(`ws://127.0.0.1:${gw.port}/api/streaming/ws`, sign({ sub: 'analyst' }));

    await console.next('Connected to streaming server');
    await console.next('Authentication successful');
    const frames: any[] = [];
    const subscribed = new Promise<any>((resolve) =>
      client.ws.on('message', (data) => {
        const frame = JSON.parse(data.toString());
        frames.push(frame);
        if (frame.type === 'subscribed') resolve(frame);
      }),
    );
    // --- seed 003 "Usage" ---
    client.subscribe('events', {
      event_type: 'user_action',
      'payload.user_id': 'user123',
    });
    client.subscribe('metrics');
    // --- end of seed code ---
    expect((await subscribed).data).toMatchObject({ type: 'events', filters: { event_type: 'user_action', 'payload.user_id': 'user123' } });
    client.subscribe('events', { 'payload.__proto__': 'x' });
    const [, error] = await console.next('Server error:');
    expect(error).toMatch(/^Invalid subscribe: filters/);
  });

  it('connects to the root path, as the seed does, and gets filtered events posted by REST and by a plain Redis PUBLISH', async () => {
    const a = await startGateway({ REDIS_URL: redis.url });
    const b = await startGateway({ REDIS_URL: redis.url });
    await streamListeners(2);
    const console = new RecordingConsole();
    const StreamingClient = defineStreamingClient(console);
    // --- seed 003 "Basic Connection": `new WebSocket('ws://localhost:8765')`, the server's root ---
    const client = new StreamingClient(`ws://127.0.0.1:${b.port}`, sign({ sub: 'analyst' }));
    await console.next('Authentication successful');
    // The application's part: the seed's handleData looks callbacks up by the server's
    // subscription_id, which the `subscribed` answer carries.
    client.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type !== 'subscribed') return;
      client.subscriptions.set(frame.subscription_id, (payload: any) => console.log(`${frame.data.type} callback`, payload));
      console.log('subscribed', frame.data.type);
    });
    // --- seed 003 "Usage" ---
    client.subscribe('events', {
      'event_type': 'user_action',
      'payload.user_id': 'user123',
    });
    client.subscribe('metrics');
    // --- end of seed code ---
    await console.next('subscribed', 'metrics');

    const res = await fetch(`${urlOf(a)}/api/v1/streams/events`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${sign({ sub: 'backend', roles: ['admin'] })}` },
      body: JSON.stringify([
        { event_id: 'evt_other', event_type: 'user_action', payload: { user_id: 'user456' } },
        { event_id: 'evt_rest', event_type: 'user_action', user_id: 'user_456', payload: { user_id: 'user123' } },
      ]),
    });
    expect(res.status).toBe(200);
    const publisher = await redis.server.client();
    await publisher.publish('rg:streams', JSON.stringify({ type: 'events', item: { event_id: 'evt_redis', event_type: 'user_action', payload: { user_id: 'user123' } } }));
    await publisher.publish('rg:streams', JSON.stringify({ type: 'metrics', items: [{ name: 'cpu', value: 0.5 }] }));
    await console.next('metrics callback');
    const callbacks = console.lines.filter((l) => String(l.args[0]).endsWith('callback')).map((l) => l.args);
    expect(callbacks).toEqual([
      ['events callback', { event: { event_id: 'evt_rest', event_type: 'user_action', user_id: 'user_456', payload: { user_id: 'user123' } }, subscription_type: 'events' }],
      ['events callback', { event: { event_id: 'evt_redis', event_type: 'user_action', payload: { user_id: 'user123' } }, subscription_type: 'events' }],
      ['metrics callback', { metric: { name: 'cpu', value: 0.5 }, subscription_type: 'metrics' }],
    ]);
  });
});

describe('seed 004 JavaScript snippets (/api/chat/ws)', () => {
  it('authenticates by query or first message and handles message, typing, user_joined', async () => {
    const gw = await startGateway();
    const app = new RecordingConsole();
    const displayMessage = (m: any) => app.log('message', m.content, m.author.username);
    const updateTypingIndicator = (userId: string, isTyping: boolean) => app.log('typing', userId, isTyping);
    const showUserJoined = (username: string) => app.log('joined', username);
    const contextId = 'context_123';

    // --- seed 004 "Query Parameter Authentication" ---
    const jwt = sign({ sub: 'learner', name: 'Learner' });
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/api/chat/ws?token=${encodeURIComponent(jwt)}&contextId=${contextId}`);
    sockets.push(ws);
    // --- seed 004 "Incoming Messages" ---
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data as string);
      if (message.type === 'message') {
        const { id, content, author, timestamp } = message.data;
        displayMessage({ id, content, author, timestamp });
      }
      if (message.type === 'typing') {
        const { userId, isTyping } = message.data;
        updateTypingIndicator(userId, isTyping);
      }
      if (message.type === 'user_joined') {
        // @ts-ignore: the seed code leaves this unused
        const { userId, username } = message.data;
        showUserJoined(username);
      }
    };
    // --- end of seed code ---
    await new Promise((resolve) => ws.once('open', resolve));

    // --- seed 004 "Initial Message Authentication" (another user, same context) ---
    const tutorJwt = sign({ sub: 'tutor', name: 'Tutor' });
    const ws2 = new WebSocket(`ws://127.0.0.1:${gw.port}/api/chat/ws`);
    sockets.push(ws2);
    ws2.onopen = () => {
      ws2.send(
        JSON.stringify({
          type: 'auth',
          token: tutorJwt,
          contextId: contextId,
        }),
      );
    };
    // --- end of seed code ---
    const tutorFrames: any[] = [];
    const tutorReady = new Promise<void>((resolve) =>
      ws2.on('message', (data) => {
        const frame = JSON.parse(data.toString());
        tutorFrames.push(frame);
        if (frame.type === 'room_state' && frame.data.total_users === 2) resolve();
      }),
    );
    await tutorReady;
    // --- seed 004 "Send Chat Message", "Send Typing Indicator" (from the tutor) ---
    ws2.send(JSON.stringify({ type: 'message', data: { content: 'Hello, everyone!', messageType: 'text' } }));
    ws2.send(JSON.stringify({ type: 'typing', data: { isTyping: true } }));
    // --- end of seed code ---
    const observer = await connectV4(urlOf(gw), sign({ sub: 'observer' }), { namespace: '/chat' });
    await request(observer, 'join_room', { room_id: contextId });
    await waitFor(observer, 'room_state', (s) => s.total_users === 3);
    expect(await app.next('typing')).toEqual(['typing', 'tutor', true]);
    expect(await app.next('message')).toEqual(['message', 'Hello, everyone!', 'Tutor']);
    await app.next('joined', 'observer');
    const lines = app.lines.map((l) => l.args);
    expect(lines).toHaveLength(5);
    expect(lines.slice(0, 2)).toEqual([['joined', 'Learner'], ['joined', 'Tutor']]);
    // message and typing are handled concurrently: either may arrive first.
    expect(lines.slice(2, 4)).toEqual(expect.arrayContaining([['message', 'Hello, everyone!', 'Tutor'], ['typing', 'tutor', true]]));
    expect(lines[4]).toEqual(['joined', 'observer']);
  });
});
