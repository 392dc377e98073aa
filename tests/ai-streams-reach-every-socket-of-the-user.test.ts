import { Writable } from 'node:stream';
import winston from 'winston';
import { loadConfig } from '../server/config';
import { createGateway } from '../server/gateway';
import { collect, connectV4, request, waitFor } from './support/clients';
import { FakeOpenAI } from './support/fake-openai';
import { startGateway, stopGateway, testEnv, urlOf } from './support/gateway';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';
import { closeNatives, connectAgents, connectWorkspace } from './support/native';
import { token } from './support/tokens';

cleanUpAfterEach();
afterEach(() => closeNatives());
const redis = useRedis();

let upstream: FakeOpenAI;
beforeEach(async () => {
  upstream = await FakeOpenAI.start();
});
afterEach(async () => {
  await upstream.close();
});

const API_KEY = 'sk-test-secret-key-that-must-never-leak';
const ai = (extra: Record<string, string> = {}) => ({ AI_UPSTREAM_URL: upstream.url, AI_API_KEY: API_KEY, AI_MODEL: 'test-model', ...extra });

type AiEvent = { event_type: string; request_id: string; user_id: string; data: any };
const until = (socket: Parameters<typeof waitFor>[0], type: string) => waitFor<AiEvent>(socket, 'ai_event', (e) => e.event_type === type, 10_000);

describe('AI streaming', () => {
  it('streams 200 chunks, coalesced and in order, to every socket of the user on every pod, concatenating exactly to the result', async () => {
    const [a, b] = await Promise.all([startGateway({ REDIS_URL: redis.url, ...ai() }), startGateway({ REDIS_URL: redis.url, ...ai() })]);
    const chunks = FakeOpenAI.tokens(200, { reasoningEvery: 10, toolCallAt: 50 });
    upstream.script(FakeOpenAI.stream(chunks, { intervalMs: 2 }));
    const tab = await connectV4(urlOf(a), token({ sub: 'ada' }), { namespace: '/ai' });
    const native = await connectAgents(b, token({ sub: 'ada' }));
    const stranger = await connectV4(urlOf(a), token({ sub: 'eve' }), { namespace: '/ai' });
    const strangerSaw = collect(stranger, 'ai_event');
    const events = collect<AiEvent>(tab, 'ai_event');
    const complete = until(tab, 'ai_complete');

    expect(await request(tab, 'ai_request', { request_id: 'r1', query: 'Summarise' })).toEqual({ ok: true, request_id: 'r1', status: 'started' });
    const done = await complete;
    const expected = chunks.map((c) => c.content).join('');
    expect(done.data.result).toBe(expected);
    expect(done.data).toMatchObject({ finish_reason: 'stop', usage: { completion_tokens: 200 }, tool_calls: [{ id: 'call_50', name: 'lookup', arguments: '{"cell":"A50"}' }] });
    expect(done.data.reasoning).toBe(chunks.map((c) => c.reasoning ?? '').join(''));

    expect(events[0]).toMatchObject({ event_type: 'ai_start', request_id: 'r1', user_id: 'ada', data: { query: 'Summarise' } });
    const progress = events.filter((e) => e.event_type === 'ai_progress');
    expect(progress.map((e) => e.data.delta).join('')).toBe(expected);
    expect(progress.length).toBeLessThan(200); // coalesced (AI_PROGRESS_INTERVAL_MS)
    expect(progress.map((e) => e.data.progress)).toEqual([...progress.map((e) => e.data.progress)].sort((x, y) => x - y));
    expect(events[events.length - 1].event_type).toBe('ai_complete');

    // The same user's seed 001 client on the other pod saw the same stream, in its envelope.
    const frames = [];
    for (;;) {
      const frame = await native.next('ai_event', 10_000);
      frames.push(frame.payload);
      if (frame.payload.event_type === 'ai_complete') break;
    }
    expect(frames.filter((e) => e.event_type === 'ai_progress').map((e) => e.data.delta).join('')).toBe(expected);
    expect(strangerSaw).toEqual([]);
    // The upstream got the model, the messages and the key.
    const [req] = upstream.requests;
    expect(req.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(req.body).toMatchObject({ model: 'test-model', stream: true, messages: [{ role: 'user', content: 'Summarise' }] });
  });

  it('serves seed 001 agents: user_message and agent_request stream agent events with the correlation id', async () => {
    const gw = await startGateway(ai({ AI_SYSTEM_PROMPT: 'Be brief.' }));
    upstream.script(FakeOpenAI.stream(FakeOpenAI.tokens(30, { reasoningEvery: 5, toolCallAt: 10 }), { intervalMs: 1 }));
    const agent = await connectAgents(gw, token({ sub: 'grace' }));
    agent.send({ type: 'user_message', payload: { content: 'Hello', correlation_id: 'c-1' } });
    expect(await agent.next((f) => f.type === 'ack' && f.correlation_id === 'c-1')).toMatchObject({ payload: { message_type: 'user_message', status: 'started' } });
    expect(await agent.next('agent_started')).toMatchObject({ correlation_id: 'c-1', payload: { agent: 'assistant', user_id: 'grace' } });
    const completed = await agent.next('agent_completed', 10_000);
    expect(completed).toMatchObject({ correlation_id: 'c-1', payload: { finish_reason: 'stop', usage: { completion_tokens: 30 }, tool_calls: [{ name: 'lookup' }] } });
    const partial = agent.take('partial_result');
    expect(partial.map((f) => f.payload.delta).join('')).toBe(completed.payload.content);
    expect(agent.take('agent_thinking').map((f) => f.payload.delta).join('')).toBe(completed.payload.reasoning);
    expect(agent.take('tool_executing').length).toBeGreaterThan(0);
    expect(upstream.requests[0].body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello' },
    ]);

    // A failure is seed 001's error envelope, with recoverable, help and the correlation id.
    upstream.script(FakeOpenAI.status(500));
    agent.send({ type: 'agent_request', payload: { agent: 'analyst', query: 'Fail please' }, correlation_id: 'c-2' });
    expect(await agent.next((f) => f.type === 'error' && f.correlation_id === 'c-2', 10_000)).toMatchObject({
      payload: { code: 'UPSTREAM_UNAVAILABLE', recoverable: true, help: expect.any(String), message_type: 'agent_request' },
    });
  });

  it('puts the stored cells of the named range into the prompt', async () => {
    const gw = await startGateway(ai());
    upstream.script(FakeOpenAI.stream([{ content: 'ok' }]));
    const socket = await connectV4(urlOf(gw), token({ sub: 'cells' }));
    for (const [cell, value] of [['A1', 'Region'], ['B1', 'Sales'], ['A2', 'North'], ['B2', 120], ['C9', 'outside']] as const) {
      await request(socket, 'cell_update', { sheet_id: 'sheet_1', cell_id: cell, value });
    }
    const done = waitFor<AiEvent>(socket, 'ai_event', (e) => e.event_type === 'ai_complete');
    await request(socket, 'ai_request', { request_id: 'r-cells', query: 'Analyze this data', sheet_id: 'sheet_1', context: { table_range: 'A1:B5' } });
    await done;
    const system = upstream.requests[0].body.messages[0];
    expect(system.role).toBe('system');
    expect(system.content).toContain('Spreadsheet sheet_1, range A1:B5 (4 non-empty cells');
    expect(system.content).toContain('\tA\tB\n1\tRegion\tSales\n2\tNorth\t120');
    expect(system.content).not.toContain('outside');
  });

  it('cancel and the last socket going abort the upstream request within a second', async () => {
    const gw = await startGateway(ai());
    upstream.script(FakeOpenAI.stream(FakeOpenAI.tokens(3), { end: 'hang' }), FakeOpenAI.stream(FakeOpenAI.tokens(3), { end: 'hang' }));
    const socket = await connectV4(urlOf(gw), token({ sub: 'canceller' }), { namespace: '/ai' });
    const error = waitFor<AiEvent>(socket, 'ai_event', (e) => e.event_type === 'ai_error');
    await request(socket, 'ai_request', { request_id: 'c1', query: 'long' });
    const [first] = await upstream.waitForRequests(1);
    await waitFor<AiEvent>(socket, 'ai_event', (e) => e.event_type === 'ai_progress');
    const cancelledAt = Date.now();
    expect(await request(socket, 'ai_cancel', { request_id: 'c1' })).toEqual({ ok: true, request_id: 'c1', cancelled: true });
    expect((await first.closed) - cancelledAt).toBeLessThan(1000);
    expect((await error).data).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'cancelled' });

    await request(socket, 'ai_request', { request_id: 'c2', query: 'long again' });
    const [, second] = await upstream.waitForRequests(2);
    const leftAt = Date.now();
    socket.close();
    expect((await second.closed) - leftAt).toBeLessThan(1000);
  });

  it('ends the stream with one ai_error on timeout, an error mid-stream and a malformed line; retries 429 only before the first token', async () => {
    const gw = await startGateway(ai({ AI_TIMEOUT_MS: '600' }));
    const socket = await connectV4(urlOf(gw), token({ sub: 'failing' }), { namespace: '/ai' });
    const outcome = async (requestId: string) => {
      const events = collect<AiEvent>(socket, 'ai_event');
      const end = waitFor<AiEvent>(socket, 'ai_event', (e) => e.request_id === requestId && (e.event_type === 'ai_error' || e.event_type === 'ai_complete'), 10_000);
      await request(socket, 'ai_request', { request_id: requestId, query: requestId });
      const last = await end;
      await new Promise((r) => setTimeout(r, 50)); // nothing may follow the end
      return { last, mine: events.filter((e) => e.request_id === requestId) };
    };

    upstream.script(FakeOpenAI.hang());
    const timeout = await outcome('timeout');
    expect(timeout.last.data).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', error: expect.stringMatching(/timed out/) });

    upstream.script(FakeOpenAI.stream(FakeOpenAI.tokens(5), { end: 'error' }));
    const midStream = await outcome('mid');
    expect(midStream.mine.filter((e) => e.event_type === 'ai_progress').map((e) => e.data.delta).join('')).toBe(FakeOpenAI.tokens(5).map((c) => c.content).join(''));
    expect(midStream.mine.filter((e) => e.event_type === 'ai_error')).toHaveLength(1);

    upstream.script(FakeOpenAI.stream(FakeOpenAI.tokens(2), { end: 'malformed' }));
    expect((await outcome('malformed')).last.data.error).toMatch(/malformed/);

    const before = upstream.requests.length;
    upstream.script(FakeOpenAI.status(429, { retryAfter: 0 }), FakeOpenAI.stream(FakeOpenAI.tokens(3)));
    const retried = await outcome('retried');
    expect(retried.last.event_type).toBe('ai_complete');
    expect(upstream.requests.length - before).toBe(2);

    upstream.script(FakeOpenAI.stream(FakeOpenAI.tokens(1), { end: 'error', error: { code: 429, message: 'slow down' } }));
    const notRetried = await outcome('not-retried');
    expect(notRetried.last.event_type).toBe('ai_error');
    expect(upstream.requests.length - before).toBe(3);
  });

  it('limits concurrent streams per user, and without AI_UPSTREAM_URL names the variable', async () => {
    const gw = await startGateway(ai({ AI_MAX_CONCURRENT_PER_USER: '1' }));
    upstream.script(FakeOpenAI.hang());
    const socket = await connectV4(urlOf(gw), token({ sub: 'busy' }), { namespace: '/ai' });
    await request(socket, 'ai_request', { request_id: 'one', query: 'q' });
    expect((await request(socket, 'ai_request', { request_id: 'two', query: 'q' })).error).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', limit: 1 });
    const other = await connectV4(urlOf(gw), token({ sub: 'free' }), { namespace: '/ai' });
    upstream.script(FakeOpenAI.stream([{ content: 'hi' }]));
    expect(await request(other, 'ai_request', { query: 'q' })).toMatchObject({ ok: true, request_id: expect.any(String) });

    const bare = await startGateway();
    const client = await connectV4(urlOf(bare), token({ sub: 'x' }), { namespace: '/ai' });
    expect((await request(client, 'ai_request', { query: 'q' })).error).toEqual({
      code: 'UPSTREAM_UNAVAILABLE',
      message: 'No AI upstream is configured on this gateway: set AI_UPSTREAM_URL',
    });
    // Seed 002 native clients get the seed's error frame.
    const ws = await connectWorkspace(bare, token({ sub: 'x' }));
    ws.send({ type: 'ai_request', request_id: 'req_123', query: 'Analyze' });
    expect(await ws.next('error')).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', message_type: 'ai_request' });
  });

  it('on shutdown ends running streams with an ai_error before the clients are disconnected, and never logs or sends the key', async () => {
    const lines: string[] = [];
    const config = loadConfig(testEnv({ ...ai(), LOG_LEVEL: 'debug', SHUTDOWN_TIMEOUT_MS: '1000' }));
    const logger = winston.createLogger({
      level: 'debug',
      format: winston.format.json(),
      transports: [new winston.transports.Stream({ stream: new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }) })],
    });
    const gw = await createGateway(config, { logger });
    upstream.script(FakeOpenAI.status(401), FakeOpenAI.stream(FakeOpenAI.tokens(2), { end: 'hang' }));
    const socket = await connectV4(urlOf(gw), token({ sub: 'late' }), { namespace: '/ai' });
    const frames = collect(socket, 'ai_event');
    const refused = waitFor<AiEvent>(socket, 'ai_event', (e) => e.request_id === 'denied' && e.event_type === 'ai_error');
    await request(socket, 'ai_request', { request_id: 'denied', query: 'q' }).then(() => undefined);
    await request(socket, 'ai_request', { request_id: 'running', query: 'q' });
    expect((await refused).data).toMatchObject({ code: 'PERMISSION_DENIED' });
    await waitFor<AiEvent>(socket, 'ai_event', (e) => e.request_id === 'running' && e.event_type === 'ai_progress');
    const ended = waitFor<AiEvent>(socket, 'ai_event', (e) => e.request_id === 'running' && e.event_type === 'ai_error');
    const gone = waitFor(socket, 'disconnect');
    const closing = stopGateway(gw);
    expect((await ended).data).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'shutdown' });
    await gone;
    await closing;
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(API_KEY);
    expect(JSON.stringify(frames)).not.toContain(API_KEY);
  });
});
