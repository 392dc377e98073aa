// The code examples of docs/migration.md (and of the README's client sections) run as written, each
// in its own `node` process with the repository as working directory, against a real gateway:
// the only edits are the documented address (localhost:3000 becomes the test gateway's) and, for
// the Socket.IO v2 examples, the module name (the v2 client is installed here under the alias
// socket.io-client-v2). TOKEN, ADMIN_API_KEY and JWT_SECRET come through the environment, as the
// guide says. Each test checks what the example prints against what its comments promise, and
// what the other side of the room saw.
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import type { Gateway } from '../server/gateway';
import { collect, connectV4, request, waitFor } from './support/clients';
import { FakeBackend } from './support/fake-backend';
import { FakeOpenAI } from './support/fake-openai';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';
import { closeNatives, connectWorkspace } from './support/native';
import { codeBlocks, isModule, killSnippets, runSnippet, SnippetFile, type PrintedLine, type RunningSnippet } from './support/markdown-snippets';
import { TEST_SECRET, token } from './support/tokens';

cleanUpAfterEach();
afterEach(() => {
  killSnippets();
  closeNatives();
});

const ROOT = join(__dirname, '..');
const guide = new SnippetFile(join(ROOT, 'docs/migration.md'));
const readme = new SnippetFile(join(ROOT, 'README.md'));

const ADMIN_API_KEY = 'migration-guide-admin-key-0123456789';

/** Runs a named snippet of `file` against `gw`, with `env` on top of nothing but PATH and HOME. */
function run(file: SnippetFile, name: string, gw: Gateway, env: Record<string, string> = {}, replace: Array<[string, string]> = []): RunningSnippet {
  const block = file.get(name);
  // A replacement the snippet no longer needs would hide a change of the snippet: say so.
  for (const [from] of replace) if (!block.code.includes(from)) throw new Error(`snippet "${name}" no longer contains ${from}`);
  return runSnippet(block, { cwd: ROOT, env, replace: [['localhost:3000', `127.0.0.1:${gw.port}`], ...replace] });
}

/** The v2 examples `require('socket.io-client')` as an application on 2.x does; here 2.x is the alias. */
const V2_CLIENT: Array<[string, string]> = [["require('socket.io-client')", "require('socket.io-client-v2')"]];

/** A line whose JSON passes `match`. */
const json = (match: (value: any) => boolean) => (line: PrintedLine) => line.json !== undefined && match(line.json);
const jsonValues = (lines: readonly PrintedLine[]) => lines.map((l) => l.json);

describe('the snippet extractor', () => {
  it('names a block by the comment on the last non-blank line before its fence, and only then', () => {
    const blocks = codeBlocks(
      ['<!-- snippet: a -->', '', '```js title', 'one();', '```', 'text', '```js', 'two();', '```', '<!-- snippet: b -->', 'prose', '````sh', '```', '````'].join('\n'),
    );
    expect(blocks).toEqual([
      { lang: 'js', code: 'one();\n', line: 3, name: 'a' },
      { lang: 'js', code: 'two();\n', line: 7 },
      { lang: 'sh', code: '```\n', line: 12 },
    ]);
  });

  it('runs ES modules and CommonJS alike', () => {
    expect(isModule("import WebSocket from 'ws';\n")).toBe(true);
    expect(isModule('const r = await fetch(url);\n')).toBe(true);
    expect(isModule("const WebSocket = require('ws');\nws.onopen = async () => {\n  await x;\n};\n")).toBe(false);
  });
});

describe('docs/migration.md', () => {
  it('has no code block that the tests do not run', () => {
    expect(guide.unnamed(['js', 'javascript', 'mjs', 'cjs', 'ts', 'typescript', 'python', 'py', 'sh', 'bash'])).toEqual([]);
  });

  it('mint-token: a token signed with JWT_SECRET is accepted, with its name and email', async () => {
    const gw = await startGateway();
    const printed = await run(guide, 'mint-token', gw, { JWT_SECRET: TEST_SECRET }).succeeded();
    expect(printed).toHaveLength(1);
    const client = await connectV4(urlOf(gw), printed[0].text);
    const state = waitFor(client, 'room_state');
    await request(client, 'join_room', { room_id: 'r' });
    expect((await state).users).toEqual([expect.objectContaining({ user_id: 'user_1', username: 'john_doe', email: 'john@example.com' })]);
  });

  it('socketio-v2: a 2.x client (Engine.IO 3) joins with the token in the query, meets a v4 client and gets its typing', async () => {
    const gw = await startGateway();
    const protocols: number[] = [];
    gw.io.engine.on('connection', (conn: { protocol: number }) => protocols.push(conn.protocol));
    const alice = await connectV4(urlOf(gw), token({ sub: 'alice', name: 'Alice' }));
    await request(alice, 'join_room', { room_id: 'workspace_123' });
    const aliceSeesBob = waitFor(alice, 'room_state', (s) => s.total_users === 2);

    const snippet = run(guide, 'socketio-v2', gw, { TOKEN: token({ sub: 'bob', name: 'Bob' }) }, V2_CLIENT);
    await snippet.line(json((v) => v.ok === true), 'the join ack');
    await snippet.line(json((v) => Array.isArray(v) && v.length === 2), 'room_state with both users');
    expect((await aliceSeesBob).users.map((u: { user_id: string }) => u.user_id).sort()).toEqual(['alice', 'bob']);
    alice.emit('typing_start', { room: 'workspace_123', cell_id: 'A1' });

    const printed = jsonValues(await snippet.succeeded());
    expect(printed[0]).toEqual({ ok: true, room_id: 'workspace_123' });
    expect(printed).toContainEqual(['alice', 'bob']);
    expect(printed.at(-1)).toEqual({ user_id: 'alice', username: 'Alice', room_id: 'workspace_123', cell_id: 'A1' });
    expect(protocols).toEqual([4, 3]); // alice on Engine.IO 4, the snippet on Engine.IO 3
  });

  it('socketio-v2-refused: a 2.x client hears a refused handshake in its error event', async () => {
    const gw = await startGateway();
    const printed = jsonValues(await run(guide, 'socketio-v2-refused', gw, {}, V2_CLIENT).succeeded());
    expect(printed).toEqual([{ code: 'AUTHENTICATION_FAILED', message: 'Invalid token' }]);
  });

  describe('seed 000', () => {
    let backend: FakeBackend;
    beforeEach(async () => {
      backend = await FakeBackend.start();
    });
    afterEach(async () => {
      await backend.close();
    });

    it('seed-000: the request goes to CALCULATIONS_URL with the caller\'s identity and its answer comes back as result', async () => {
      const positions = { SUN: { longitude: 280.4 }, MOON: { longitude: 12.9 } };
      backend.answer('/calculate', { body: positions });
      const gw = await startGateway({ CALCULATIONS_URL: `${backend.url}/calculate` });
      const jwt = token({ sub: 'astrologer' });

      const printed = jsonValues(await run(guide, 'seed-000', gw, { TOKEN: jwt }).succeeded());
      expect(printed).toEqual([{ status: 'success', calculation_type: 'positions', chart_id: 'chart-123', result: positions }]);
      const sent = await backend.request('/calculate');
      expect(sent.method).toBe('POST');
      expect(sent.body).toEqual({ chart_id: 'chart-123', calculation_type: 'positions', parameters: { planets: ['SUN', 'MOON'] } });
      expect(sent.headers.authorization).toBe(`Bearer ${jwt}`);
      expect(sent.headers['x-user-id']).toBe('astrologer');
    });
  });

  describe('seed 001', () => {
    let upstream: FakeOpenAI;
    beforeEach(async () => {
      upstream = await FakeOpenAI.start();
    });
    afterEach(async () => {
      await upstream.close();
    });

    it('seed-001: discovery names /ws, and a user_message streams partial results that add up to agent_completed', async () => {
      upstream.script(FakeOpenAI.stream(FakeOpenAI.tokens(40), { intervalMs: 1 }));
      const gw = await startGateway({ AI_UPSTREAM_URL: upstream.url, AI_MODEL: 'test-model' });

      const printed = jsonValues(await run(guide, 'seed-001', gw, { TOKEN: token({ sub: 'agent-user' }) }).succeeded());
      expect(printed).toEqual(['/ws', { correlation_id: 'req-1', complete: true }]);
      expect(upstream.requests).toHaveLength(1);
      expect(upstream.requests[0].body).toMatchObject({ model: 'test-model', messages: expect.arrayContaining([{ role: 'user', content: 'Summarise the Q3 sheet' }]) });
    });
  });

  it('seed-002: a native client\'s edit reaches a Socket.IO client in the room; the stale retry is refused and reaches nobody', async () => {
    const gw = await startGateway();
    const alice = await connectV4(urlOf(gw), token({ sub: 'alice' }));
    await request(alice, 'join_room', { room_id: 'workspace_123' });
    const updates = collect(alice, 'cell_updated');

    const printed = jsonValues(await run(guide, 'seed-002', gw, { TOKEN: token({ sub: 'bob', name: 'Bob' }) }).succeeded());
    expect(printed).toEqual([
      { cell_id: 'A1', value: 'Hello', version: 1 },
      { code: 'VERSION_CONFLICT', current: 1 },
    ]);
    // A round trip on alice's connection after the snippet ended: a second broadcast would be here.
    await request(alice, 'sheet_state', { sheet_id: 'sheet_123' });
    expect(updates).toEqual([expect.objectContaining({ sheet_id: 'sheet_123', cell_id: 'A1', value: 'Hello', version: 1, user_id: 'bob', username: 'Bob' })]);
  });

  it('seed-003: a client at the root path keys callbacks by the server\'s ids and gets only the published event its filters match', async () => {
    const gw = await startGateway({ ADMIN_API_KEY });
    const subscriber = run(guide, 'seed-003-subscribe', gw, { TOKEN: token({ sub: 'analyst' }) });
    await subscriber.line(json((v) => v === 'events'), 'the subscribed line');

    const published = jsonValues(await run(guide, 'seed-003-publish', gw, { ADMIN_API_KEY }).succeeded());
    expect(published).toEqual([{ status: 200, accepted: 2 }]);
    const printed = jsonValues(await subscriber.succeeded());
    expect(printed).toEqual([
      'events',
      { event: { event_id: 'evt_2', event_type: 'user_action', payload: { user_id: 'user123' } }, subscription_type: 'events' },
    ]);
  });

  it('seed-004-chat: the query token and contextId join the room a Socket.IO /chat client is in; the message is acked and in history', async () => {
    const gw = await startGateway();
    const alice: Socket = await connectV4(urlOf(gw), token({ sub: 'alice' }), { namespace: '/chat' });
    await request(alice, 'join_room', { room_id: 'context_123' });
    const received = waitFor(alice, 'message');

    const printed = jsonValues(await run(guide, 'seed-004-chat', gw, { TOKEN: token({ sub: 'bob', name: 'Bob' }) }).succeeded());
    expect(printed).toEqual([{ content: 'Hello, everyone!', author: { userId: 'bob', username: 'Bob' } }]);
    expect(await received).toMatchObject({ room_id: 'context_123', content: 'Hello, everyone!', messageType: 'text', author: { userId: 'bob', username: 'Bob' } });
  });

  it('seed-004-analytics: first-message auth, subscribe {metrics}, and a metric a backend publishes for the context', async () => {
    const gw = await startGateway({ ADMIN_API_KEY });
    const analytics = run(guide, 'seed-004-analytics', gw, { TOKEN: token({ sub: 'teacher' }) });
    await analytics.line(json((v) => Array.isArray(v)), 'the subscribed metrics');

    const published = await run(guide, 'seed-004-publish-metric', gw, { ADMIN_API_KEY }).succeeded();
    expect(published.map((l) => l.text)).toEqual(['200']);
    expect(jsonValues(await analytics.succeeded())).toEqual([['engagement', 'performance', 'activity'], { metric: 'engagement', value: 0.8 }]);
  });

  it('seed-004-collaboration: an edit against the session\'s version comes back with the next version and its author', async () => {
    const gw = await startGateway();
    const printed = jsonValues(await run(guide, 'seed-004-collaboration', gw, { TOKEN: token({ sub: 'carol', name: 'Carol' }) }).succeeded());
    expect(printed).toEqual([{ version: 1, author: { userId: 'carol', username: 'Carol' } }]);
  });

  it('ran every named snippet of the guide', () => {
    expect(guide.unused()).toEqual([]);
  });
});

describe('README.md client examples', () => {
  it('readme-quick-example: joins on /workspace, writes a cell and prints both acks', async () => {
    const gw = await startGateway();
    const texts = (await run(readme, 'readme-quick-example', gw, { TOKEN: token({ sub: 'reader' }) }).succeeded()).map((l) => l.text);
    expect(texts).toContain("{ ok: true, room_id: 'workspace_123' }");
    expect(texts.at(-1)).toBe('1');
  });

  it('readme-native: a seed 002 client from Node gets room_state for the room it joined', async () => {
    const gw = await startGateway();
    const texts = (await run(readme, 'readme-native', gw, { TOKEN: token({ sub: 'reader' }) }).succeeded()).map((l) => l.text);
    expect(texts).toEqual(['room_state workspace_123 1']);
  });

  describe('with an AI upstream', () => {
    let upstream: FakeOpenAI;
    beforeEach(async () => {
      upstream = await FakeOpenAI.start();
    });
    afterEach(async () => {
      await upstream.close();
    });

    it('readme-ai: ai_request streams ai_start, ai_progress and ai_complete, then the example ends', async () => {
      upstream.script(FakeOpenAI.stream(FakeOpenAI.tokens(20), { intervalMs: 1 }));
      const gw = await startGateway({ AI_UPSTREAM_URL: upstream.url });
      const printed = await run(readme, 'readme-ai', gw, { TOKEN: token({ sub: 'reader' }) }).succeeded();
      // Each event prints its type, then its data (util.inspect, over several lines for a large one).
      const events = printed.map((l) => /^(ai_\w+) /.exec(l.text)?.[1]).filter((type) => type !== undefined);
      expect(events[0]).toBe('ai_start');
      expect(events.at(-1)).toBe('ai_complete');
      expect(events.slice(1, -1).length).toBeGreaterThan(0);
      expect(new Set(events.slice(1, -1))).toEqual(new Set(['ai_progress']));
    });
  });

  it('readme-notifications: after the documented POST, the subscriber of user_123 gets it unread and marks it read', async () => {
    const gw = await startGateway({ ADMIN_API_KEY });
    const created = await fetch(`${urlOf(gw)}/api/v1/ws/broadcast/notification?event_type=notification_created`, {
      method: 'POST',
      headers: { 'X-API-Key': ADMIN_API_KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        user_id: 'user_123',
        title: 'New Task Assigned',
        message: 'You have been assigned a new task',
        category: 'tasks',
        priority: 'high',
        module_name: 'project_management',
      }),
    });
    expect(created.status).toBe(201);
    const texts = (await run(readme, 'readme-notifications', gw, { TOKEN: token({ sub: 'user_123' }) }).succeeded()).map((l) => l.text);
    expect(texts).toEqual(["1 [ 'New Task Assigned' ]"]);
    const again = await connectV4(urlOf(gw), token({ sub: 'user_123' }), { namespace: '/notifications' });
    expect(await request(again, 'subscribe_notifications', {})).toMatchObject({ ok: true, unread_count: 0 });
  });

  describe('with Redis', () => {
    const redis = useRedis();

    it('readme-emitter: a backend\'s emitter reaches the room on / and /workspace, the user, and /notifications', async () => {
      const gw = await startGateway({ REDIS_URL: redis.url });
      const native = await connectWorkspace(gw, token({ sub: 'native-member' }));
      native.send({ type: 'join_room', room_id: 'workspace_123' });
      await native.next('room_state');
      const member = await connectV4(urlOf(gw), token({ sub: 'member' }), { namespace: '/workspace' });
      await request(member, 'join_room', { room_id: 'workspace_123' });
      const user = await connectV4(urlOf(gw), token({ sub: 'user_123' }));
      const watcher = await connectV4(urlOf(gw), token({ sub: 'watcher' }), { namespace: '/notifications' });
      const board = waitFor(member, 'board_update');
      const direct = waitFor(user, 'direct_message');
      const maintenance = waitFor(watcher, 'maintenance');

      await run(readme, 'readme-emitter', gw, { REDIS_URL: redis.url }).succeeded();
      expect(await board).toEqual({ sheet_id: 'sheet_123', summary: 'totals recomputed' });
      expect(await native.next('board_update')).toEqual({ type: 'board_update', sheet_id: 'sheet_123', summary: 'totals recomputed' });
      expect(await direct).toEqual({ from: 'billing', message: 'Invoice ready' });
      expect(await maintenance).toEqual({ at: '22:00' });
    });
  });

  it('ran every named snippet of the README', () => {
    expect(readme.unused()).toEqual([]);
  });
});
