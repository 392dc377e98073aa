import { getEventListeners } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import winston from 'winston';
import { ErrorCodes, GatewayError } from '../shared/errors';
import { createLogger } from '../server/logger';
import {
  createChatCompletionsClient,
  type ChatCompletionsClient,
  type ChatMessage,
  type StreamDelta,
  type StreamResult,
} from '../server/upstreams/chat-completions';
import { FakeOpenAI, type FakeChunk, type FakeStreamEnd } from './support/fake-openai';
import { Progress } from './support/progress';

/**
 * The AI upstream client against a real HTTP server speaking the Chat Completions stream format
 * (no mock of fetch): deltas in order and exact, the retry rule (before the first delta only),
 * every failure mapped to its code, aborts and timeouts that close the upstream request, and an
 * API key that never reaches an error or a log line.
 */

const API_KEY = 'sk-test-THE-SECRET-KEY-0123456789';
const FAST_RETRY = { attempts: 3, baseDelayMs: 10, maxDelayMs: 2000 };
const messages: ChatMessage[] = [
  { role: 'system', content: 'You analyse spreadsheets.' },
  { role: 'user', content: 'Sum column A' },
];

/** A debug-level logger of the gateway's own format whose every line is kept. */
function capturedLogger(): { logger: winston.Logger; text: () => string } {
  const logger = createLogger({ env: 'test', logLevel: 'debug', podId: 't' });
  const lines: string[] = [];
  logger.clear();
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  logger.add(new winston.transports.Stream({ stream }));
  return { logger, text: () => lines.join('\n') };
}

let fake: FakeOpenAI;
let log: ReturnType<typeof capturedLogger>;

beforeEach(async () => {
  fake = await FakeOpenAI.start();
  log = capturedLogger();
});

afterEach(async () => {
  await fake.close();
  expect(log.text()).not.toContain(API_KEY);
});

function client(overrides: Partial<Parameters<typeof createChatCompletionsClient>[0]> = {}): ChatCompletionsClient {
  return createChatCompletionsClient({
    baseUrl: fake.url,
    apiKey: API_KEY,
    model: 'test-model',
    timeoutMs: 10_000,
    logger: log.logger,
    retry: FAST_RETRY,
    ...overrides,
  });
}

/** Starts a stream; `deltas` fills as they arrive, `failure` resolves with what it rejected with. */
function start(c: ChatCompletionsClient, options: { signal?: AbortSignal; onDelta?: (d: StreamDelta, all: StreamDelta[]) => void } = {}) {
  const deltas: StreamDelta[] = [];
  const signal = options.signal ?? new AbortController().signal;
  const promise: Promise<StreamResult> = c.stream({
    messages,
    signal,
    onDelta: (delta) => {
      deltas.push(delta);
      options.onDelta?.(delta, deltas);
    },
  });
  const failure = (): Promise<any> =>
    promise.then(
      (result) => {
        throw new Error(`expected a failure, got ${JSON.stringify(result).slice(0, 200)}`);
      },
      (err: unknown) => err,
    );
  return { deltas, signal, promise, failure };
}

/** The deltas a client must deliver for scripted chunks (each chunk here carries something). */
function expectedDeltas(chunks: FakeChunk[]): StreamDelta[] {
  return chunks.map((c) => ({
    ...(c.content ? { content: c.content } : {}),
    ...(c.reasoning ? { reasoning: c.reasoning } : {}),
    ...(c.toolCalls
      ? {
          toolCalls: c.toolCalls.map((t) => ({
            index: t.index,
            ...(t.id ? { id: t.id } : {}),
            ...(t.name ? { name: t.name } : {}),
            ...(t.arguments ? { arguments: t.arguments } : {}),
          })),
        }
      : {}),
  }));
}

function expectGatewayError(err: unknown, code: string, message?: string | RegExp): GatewayError {
  expect(err).toBeInstanceOf(GatewayError);
  const e = err as GatewayError;
  expect(e.code).toBe(code);
  if (typeof message === 'string') expect(e.message).toBe(message);
  else if (message) expect(e.message).toMatch(message);
  return e;
}

/** A port nothing listens on: one the OS just gave out, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('a stream that succeeds', () => {
  it.each([
    ['coalesced in few TCP reads', { intervalMs: 0 }],
    ['split mid-event and mid-character, paced', { intervalMs: 1, splitEvents: true }],
  ])('delivers 200 chunks of content, reasoning and tool calls in order and exactly (%s)', async (_name, pacing) => {
    const chunks = FakeOpenAI.tokens(200, { reasoningEvery: 3, toolCallAt: 50 });
    chunks[120].toolCalls = [{ index: 1, id: 'call_b', name: 'chart', arguments: '{"type":' }];
    chunks[121].toolCalls = [{ index: 1, arguments: '"bar"}' }];
    const usage = { prompt_tokens: 42, completion_tokens: 200, total_tokens: 242 };
    fake.script(FakeOpenAI.stream(chunks, { ...pacing, finishReason: 'tool_calls', usage }));

    const run = start(client());
    const result = await run.promise;

    expect(run.deltas).toEqual(expectedDeltas(chunks));
    expect(result.content).toBe(chunks.map((c) => c.content).join(''));
    expect(result.content).toBe(run.deltas.map((d) => d.content ?? '').join(''));
    expect(result.content).toContain('é漢😀6 ');
    expect(result.reasoning).toBe(chunks.map((c) => c.reasoning ?? '').join(''));
    expect(result.reasoning).toBe(run.deltas.map((d) => d.reasoning ?? '').join(''));
    expect(result.reasoning).toContain('think3. '); // a `reasoning` field (Ollama) as well as `reasoning_content`
    expect(result.toolCalls).toEqual([
      { id: 'call_50', name: 'lookup', arguments: '{"cell":"A50"}' },
      { id: 'call_b', name: 'chart', arguments: '{"type":"bar"}' },
    ]);
    expect(result.finishReason).toBe('tool_calls');
    expect(result.usage).toEqual(usage);
    expect(result.model).toBe('test-model');
    expect(fake.requests).toHaveLength(1);
    expect(getEventListeners(run.signal, 'abort')).toHaveLength(0);
  });

  it('POSTs model, messages and stream to <base>/chat/completions with the bearer key', async () => {
    fake.script(FakeOpenAI.stream(FakeOpenAI.tokens(2)), FakeOpenAI.stream(FakeOpenAI.tokens(2)));
    await start(client()).promise;
    const [withKey] = fake.requests;
    expect(withKey.method).toBe('POST');
    expect(withKey.path).toBe('/v1/chat/completions');
    expect(withKey.body).toEqual({ model: 'test-model', messages, stream: true, stream_options: { include_usage: true } });
    expect(withKey.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(withKey.headers.accept).toBe('text/event-stream');
    expect(withKey.headers['content-type']).toBe('application/json');

    // No key: no Authorization header; a trailing slash on the base URL; a per-request model.
    const keyless = client({ apiKey: undefined, baseUrl: `${fake.url}/` });
    const result = await keyless.stream({ messages, signal: new AbortController().signal, onDelta: () => undefined, model: 'other-model' });
    const second = fake.requests[1];
    expect(second.path).toBe('/v1/chat/completions');
    expect(second.headers.authorization).toBeUndefined();
    expect(second.body.model).toBe('other-model');
    expect(result.model).toBe('other-model');
  });
});

describe('retries: only before the first delta', () => {
  it('retries a 429 and honours its Retry-After', async () => {
    fake.script(FakeOpenAI.status(429, { retryAfter: 1 }), FakeOpenAI.stream(FakeOpenAI.tokens(3)));
    const result = await start(client()).promise;
    expect(result.content).toBe('tok0 tok1 tok2 ');
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1].startedAt - fake.requests[0].startedAt).toBeGreaterThanOrEqual(950);
    expect(log.text()).toMatch(/retrying AI upstream request.*"status":429.*"attempt":1/);
  });

  it('caps a long Retry-After at maxDelayMs', async () => {
    fake.script(FakeOpenAI.status(503, { retryAfter: 60 }), FakeOpenAI.stream(FakeOpenAI.tokens(1)));
    await start(client({ retry: { attempts: 1, baseDelayMs: 10, maxDelayMs: 100 } })).promise;
    expect(fake.requests).toHaveLength(2);
    // The wait chosen is maxDelayMs, not the 60 s asked (nor the 2 s of FAST_RETRY); the gap between
    // the two requests is bounded far below 60 s only, as a busy machine may add to any wait.
    expect(log.text()).toMatch(/retrying AI upstream request.*"delay_ms":100[,}]/);
    expect(fake.requests[1].startedAt - fake.requests[0].startedAt).toBeLessThan(10_000);
  });

  it('retries an in-stream 429 that comes before any delta', async () => {
    fake.script(
      FakeOpenAI.stream([], { end: 'error', error: { code: 429, message: 'Rate limit reached', type: 'rate_limit_exceeded' } }),
      FakeOpenAI.stream(FakeOpenAI.tokens(2)),
    );
    const result = await start(client()).promise;
    expect(result.content).toBe('tok0 tok1 ');
    expect(fake.requests).toHaveLength(2);
  });

  it('does not retry a 429 that comes after a first delta', async () => {
    fake.script(
      FakeOpenAI.stream(FakeOpenAI.tokens(3), { end: 'error', error: { code: 429, message: 'Rate limit reached', type: 'rate_limit_exceeded' } }),
      FakeOpenAI.stream(FakeOpenAI.tokens(3)),
    );
    const run = start(client());
    const e = expectGatewayError(await run.failure(), ErrorCodes.UPSTREAM_UNAVAILABLE, 'AI upstream sent an error: Rate limit reached');
    expect(e.details).toEqual({ status: 429 });
    expect(run.deltas.map((d) => d.content)).toEqual(['tok0 ', 'tok1 ', 'tok2 ']);
    expect(fake.requests).toHaveLength(1);
  });

  it('gives up on 503 after the configured retries', async () => {
    fake.script(FakeOpenAI.status(503, { times: 4 }), FakeOpenAI.stream(FakeOpenAI.tokens(1)));
    const e = expectGatewayError(await start(client()).failure(), ErrorCodes.UPSTREAM_UNAVAILABLE, 'AI upstream answered 503');
    expect(e.details).toEqual({ status: 503 });
    expect(fake.requests).toHaveLength(4);
    expect(log.text().match(/retrying AI upstream request/g)).toHaveLength(3);
  });

  it('retries a refused connection, then answers UPSTREAM_UNAVAILABLE', async () => {
    const port = await closedPort();
    const refused = client({ baseUrl: `http://127.0.0.1:${port}/v1` });
    expectGatewayError(await start(refused).failure(), ErrorCodes.UPSTREAM_UNAVAILABLE, 'AI upstream unreachable (ECONNREFUSED)');
    expect(log.text().match(/retrying AI upstream request.*"cause":"ECONNREFUSED"/g)).toHaveLength(3);
  });

  it('does not retry a 500', async () => {
    fake.script(FakeOpenAI.status(500), FakeOpenAI.stream(FakeOpenAI.tokens(1)));
    expectGatewayError(await start(client()).failure(), ErrorCodes.UPSTREAM_UNAVAILABLE, 'AI upstream answered 500');
    expect(fake.requests).toHaveLength(1);
  });
});

describe('failures after deltas were delivered', () => {
  const cases: Array<[FakeStreamEnd, string | RegExp, Record<string, unknown>]> = [
    ['error', 'AI upstream sent an error: fake-openai: internal error', { status: 500 }],
    ['break', 'AI upstream closed the connection mid-stream', {}],
    ['malformed', 'AI upstream sent a malformed event', {}],
    ['end', 'AI upstream ended the stream before it finished', {}],
  ];
  it.each(cases)('a stream ending with %s fails with UPSTREAM_UNAVAILABLE after its deltas, not retried', async (end, message, details) => {
    fake.script(FakeOpenAI.stream(FakeOpenAI.tokens(5), { end, intervalMs: 1 }), FakeOpenAI.stream(FakeOpenAI.tokens(5)));
    const run = start(client());
    const e = expectGatewayError(await run.failure(), ErrorCodes.UPSTREAM_UNAVAILABLE, message);
    expect(e.details).toEqual(details);
    expect(run.deltas.map((d) => d.content).join('')).toBe('tok0 tok1 tok2 tok3 tok4 ');
    expect(fake.requests).toHaveLength(1);
    await fake.requests[0].closed; // released: the upstream request does not stay open
  });

  it('a malformed line stops delivery even when good events follow it in the same read', async () => {
    fake.script(FakeOpenAI.stream(FakeOpenAI.tokens(2), { end: 'malformed' }));
    const run = start(client());
    expectGatewayError(await run.failure(), ErrorCodes.UPSTREAM_UNAVAILABLE, 'AI upstream sent a malformed event');
    expect(run.deltas).toHaveLength(2);
    await fake.requests[0].closed;
    expect(fake.requests[0].abortedByClient).toBe(true);
  });
});

describe('refusals', () => {
  it.each([401, 403])('%i is PERMISSION_DENIED, not retried', async (status) => {
    fake.script(FakeOpenAI.status(status, { body: { error: { message: `Incorrect API key provided: ${API_KEY}` } } }));
    const e = expectGatewayError(await start(client()).failure(), ErrorCodes.PERMISSION_DENIED, 'AI upstream refused the API key');
    expect(e.details).toEqual({ status });
    expect(fake.requests).toHaveLength(1);
  });

  it('400 is INVALID_MESSAGE with the upstream message, the key redacted from it', async () => {
    fake.script(FakeOpenAI.status(400, { body: { error: { message: `context length exceeded for key ${API_KEY}`, type: 'invalid_request_error' } } }));
    const e = expectGatewayError(await start(client()).failure(), ErrorCodes.INVALID_MESSAGE);
    expect(e.message).toBe('AI upstream rejected the request: context length exceeded for key [redacted]');
    expect(e.details).toEqual({ status: 400 });
    expect(fake.requests).toHaveLength(1);
  });
});

describe('timeouts and aborts close the upstream request', () => {
  it.each([
    ['before the answer', FakeOpenAI.hang()],
    ['mid-stream', FakeOpenAI.stream(FakeOpenAI.tokens(2), { end: 'hang' })],
  ])('a timeout %s is UPSTREAM_UNAVAILABLE and the upstream sees its request closed', async (_name, step) => {
    fake.script(step);
    const run = start(client({ timeoutMs: 300 }));
    const e = expectGatewayError(await run.failure(), ErrorCodes.UPSTREAM_UNAVAILABLE, 'AI upstream timed out after 300 ms');
    const failedAt = Date.now();
    expect(failedAt - fake.requests[0].startedAt).toBeGreaterThanOrEqual(250);
    expect(e.details).toEqual({ timeout_ms: 300 });
    const closedAt = await fake.requests[0].closed;
    expect(closedAt - failedAt).toBeLessThan(1000);
    expect(fake.requests[0].abortedByClient).toBe(true);
  });

  it('the deadline covers the backoff between retries', async () => {
    // A 10 s backoff and a 2 s deadline: the 503 comes well within the deadline even on a busy
    // machine, and the deadline ends the wait long before the backoff would have.
    fake.script(FakeOpenAI.status(503, { retryAfter: 10, times: 4 }));
    const started = Date.now();
    const patient = client({ timeoutMs: 2000, retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 60_000 } });
    expectGatewayError(await start(patient).failure(), ErrorCodes.UPSTREAM_UNAVAILABLE, 'AI upstream timed out after 2000 ms');
    expect(log.text()).toMatch(/retrying AI upstream request.*"delay_ms":10000[,}]/);
    expect(Date.now() - started).toBeLessThan(6000);
    expect(fake.requests).toHaveLength(1);
  });

  it('an abort mid-stream rejects with the reason and the upstream sees its request closed within 1 s', async () => {
    fake.script(FakeOpenAI.stream(FakeOpenAI.tokens(3), { end: 'hang' }));
    const controller = new AbortController();
    let threeDeltas!: () => void;
    const gotThree = new Promise<void>((resolve) => (threeDeltas = resolve));
    const run = start(client(), { signal: controller.signal, onDelta: (_d, all) => all.length === 3 && threeDeltas() });
    await gotThree;
    const reason = new Error('cancelled by the user');
    const abortedAt = Date.now();
    controller.abort(reason);
    expect(await run.failure()).toBe(reason);
    const closedAt = await fake.requests[0].closed;
    expect(closedAt - abortedAt).toBeLessThan(1000);
    expect(fake.requests[0].abortedByClient).toBe(true);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('an abort during a backoff rejects at once, without another request', async () => {
    // A 10 s backoff: rejecting within 5 s of the abort can only be the abort ending the wait.
    fake.script(FakeOpenAI.status(503, { retryAfter: 10, times: 4 }));
    const controller = new AbortController();
    const run = start(client({ retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 60_000 } }), { signal: controller.signal });
    await fake.waitForRequests(1);
    await fake.requests[0].closed; // the 503 was answered: the client is now waiting to retry
    const reason = new Error('shutdown');
    const abortedAt = Date.now();
    controller.abort(reason);
    expect(await run.failure()).toBe(reason);
    expect(Date.now() - abortedAt).toBeLessThan(5000);
    expect(fake.requests).toHaveLength(1);
  });

  it('an already aborted signal rejects without a request', async () => {
    const controller = new AbortController();
    const reason = new Error('gone');
    controller.abort(reason);
    expect(await start(client(), { signal: controller.signal }).failure()).toBe(reason);
    expect(fake.requests).toHaveLength(0);
  });

  it('an abort from inside onDelta stops delivery at once, even within one read', async () => {
    fake.script(FakeOpenAI.stream(FakeOpenAI.tokens(50), { intervalMs: 0 }));
    const controller = new AbortController();
    const reason = new Error('cancel');
    const run = start(client(), { signal: controller.signal, onDelta: () => controller.abort(reason) });
    expect(await run.failure()).toBe(reason);
    expect(run.deltas).toHaveLength(1);
  });

  it('a throwing onDelta ends the stream with its error and closes the upstream request', async () => {
    fake.script(FakeOpenAI.stream(FakeOpenAI.tokens(5), { end: 'hang' }));
    const boom = new Error('sink failed');
    const run = start(client(), {
      onDelta: () => {
        throw boom;
      },
    });
    expect(await run.failure()).toBe(boom);
    expect(run.deltas).toHaveLength(1);
    await fake.requests[0].closed;
    expect(fake.requests[0].abortedByClient).toBe(true);
  });
});

describe('the upstream connection', () => {
  /** A bare upstream whose answer to request number `i` (0-based) is `answer(i, res)`; counts TCP connections. */
  async function bareUpstream(answer: (i: number, res: http.ServerResponse, req: http.IncomingMessage) => void) {
    let requests = 0;
    let connections = 0;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => answer(requests++, res, req));
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}/v1`,
      counts: () => ({ requests, connections }),
      close: () => {
        server.closeAllConnections();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }
  const event = (content: string, finish: string | null = null) =>
    `data: ${JSON.stringify({ model: 'm', choices: [{ index: 0, delta: content ? { content } : {}, finish_reason: finish }] })}\n\n`;
  const whole = (res: http.ServerResponse) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.end(`${event('a ')}${event('b ')}${event('', 'stop')}data: [DONE]\n\n`);
  };

  it('goes back to the pool after [DONE]: streams in a row share one connection', async () => {
    const upstream = await bareUpstream((_i, res) => whole(res));
    try {
      const c = client({ baseUrl: upstream.url });
      for (let i = 0; i < 3; i++) expect((await start(c).promise).content).toBe('a b ');
      expect(upstream.counts()).toEqual({ requests: 3, connections: 1 });
    } finally {
      await upstream.close();
    }
  });

  it('closes its pooled connections when closed (the pod stops), not IDLE_SOCKET_MS later', async () => {
    let open = 0;
    const progress = new Progress();
    const upstream = await bareUpstream((_i, res, req) => {
      open++;
      req.socket.once('close', () => (open--, progress.notify()));
      whole(res);
    });
    try {
      const c = client({ baseUrl: upstream.url });
      expect((await start(c).promise).content).toBe('a b ');
      expect(open).toBe(1); // kept alive in the pool
      c.close();
      await progress.until(() => open === 0, 1000, 'the pooled connection closed').catch(() => undefined);
      expect(open).toBe(0);
    } finally {
      await upstream.close();
    }
  });

  it('follows a 307 or 308 with the same POST, as fetch did; without the key on another origin', async () => {
    const seen: Array<{ path?: string; authorization?: string; body: string }> = [];
    const elsewhere = http.createServer((req, res) => {
      let body = '';
      req.on('data', (part: Buffer) => (body += part));
      req.on('end', () => {
        seen.push({ path: req.url, authorization: req.headers.authorization, body });
        whole(res);
      });
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const other = `http://localhost:${(elsewhere.address() as AddressInfo).port}`;
    const paths: Array<[string | undefined, string | undefined]> = [];
    const upstream = await bareUpstream((i, res, req) => {
      paths.push([req.url, req.headers.authorization]);
      if (i === 0) res.writeHead(307, { Location: '/v2/chat/completions' }).end();
      else res.writeHead(308, { Location: `${other}/v3/chat/completions` }).end();
    });
    try {
      // The bare upstream answers the first POST with a redirect to itself, then to another origin.
      const c = client({ baseUrl: upstream.url });
      expect((await start(c).promise).content).toBe('a b ');
      expect(paths).toEqual([
        ['/v1/chat/completions', `Bearer ${API_KEY}`],
        ['/v2/chat/completions', `Bearer ${API_KEY}`],
      ]);
      expect(seen).toEqual([{ path: '/v3/chat/completions', authorization: undefined, body: expect.stringContaining('"stream":true') }]);
    } finally {
      elsewhere.closeAllConnections();
      await new Promise<void>((resolve) => elsewhere.close(() => resolve()));
      await upstream.close();
    }
  });

  it.each([
    ['reset', (socket: net.Socket) => socket.resetAndDestroy()],
    ['closed', (socket: net.Socket) => socket.destroy()],
  ])('%s after the head, before any delta: closed mid-stream, not retried (as with fetch)', async (_name, close) => {
    const upstream = await bareUpstream((i, res) => {
      if (i > 0) return whole(res);
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(': keep-alive comment\n\n', () => res.socket && close(res.socket));
    });
    try {
      expectGatewayError(await start(client({ baseUrl: upstream.url })).failure(), ErrorCodes.UPSTREAM_UNAVAILABLE, 'AI upstream closed the connection mid-stream');
      expect(upstream.counts().requests).toBe(1);
    } finally {
      await upstream.close();
    }
  });
});

it('the API key never appears in an error, its details or the debug log', async () => {
  const keyInBody = { error: { message: `bad key ${API_KEY}`, detail: API_KEY } };
  fake.script(
    FakeOpenAI.status(401, { body: keyInBody }),
    FakeOpenAI.status(400, { body: keyInBody }),
    FakeOpenAI.status(429, { body: keyInBody, times: 4 }),
    FakeOpenAI.stream(FakeOpenAI.tokens(1), { end: 'error', error: { message: `upstream leaked ${API_KEY}`, code: 500 } }),
    FakeOpenAI.stream(FakeOpenAI.tokens(1), { end: 'malformed', malformedLine: `data: {${API_KEY}` }),
  );
  const errors: unknown[] = [];
  for (let i = 0; i < 5; i++) errors.push(await start(client()).failure());
  errors.push(await start(client({ baseUrl: `http://127.0.0.1:${await closedPort()}/v1` })).failure());

  expect(errors.map((e) => (e as GatewayError).code)).toEqual([
    ErrorCodes.PERMISSION_DENIED,
    ErrorCodes.INVALID_MESSAGE,
    ErrorCodes.UPSTREAM_UNAVAILABLE,
    ErrorCodes.UPSTREAM_UNAVAILABLE,
    ErrorCodes.UPSTREAM_UNAVAILABLE,
    ErrorCodes.UPSTREAM_UNAVAILABLE,
  ]);
  for (const e of errors) {
    expect(e).toBeInstanceOf(GatewayError);
    expect(`${(e as GatewayError).message} ${JSON.stringify((e as GatewayError).toBody())} ${String((e as Error).stack)}`).not.toContain(API_KEY);
  }
  const text = log.text();
  expect(text.match(/retrying AI upstream request/g)?.length).toBeGreaterThanOrEqual(6); // the log is not empty
  expect(text).toContain('AI upstream request failed');
  expect(text).not.toContain(API_KEY);
  expect(text).not.toContain('Sum column A'); // nor the messages
});
