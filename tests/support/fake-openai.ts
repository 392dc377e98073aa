import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real OpenAI-compatible Chat Completions server for tests and benchmarks: node:http on
 * 127.0.0.1, port 0, speaking the streaming format (`data: {chunk}` events, a final usage chunk
 * when the request asks `stream_options.include_usage`, `data: [DONE]`). Nothing is mocked: the
 * gateway's real fetch, keep-alive pool and SSE parser talk to it over TCP.
 *
 * Each request is answered by the next scripted step, in order (a step with `times: K` answers the
 * next K requests); a request with no step left gets a 500 error object, so a test that forgot to
 * script fails loudly instead of hanging.
 *
 * ```ts
 * const fake = await FakeOpenAI.start();
 * fake.script(
 *   FakeOpenAI.status(429, { retryAfter: 1 }),
 *   FakeOpenAI.stream(FakeOpenAI.tokens(200, { reasoningEvery: 3 }), { intervalMs: 1 }),
 * );
 * const client = createChatCompletionsClient({ baseUrl: fake.url, ... });
 * // ... after an abort:
 * const closedAt = await fake.requests[0].closed;   // the upstream saw its request closed
 * expect(fake.requests[0].abortedByClient).toBe(true);
 * await fake.close();
 * ```
 */

/** One streamed chunk's delta (what a token of a real model looks like). */
export interface FakeChunk {
  content?: string;
  reasoning?: string;
  /** Which field carries `reasoning`: vLLM/DeepSeek say `reasoning_content` (default), Ollama `reasoning`. */
  reasoningField?: 'reasoning_content' | 'reasoning';
  /** Tool-call pieces, as OpenAI streams them: `id` and `name` once, `arguments` in pieces. */
  toolCalls?: Array<{ index: number; id?: string; name?: string; arguments?: string }>;
}

export interface FakeUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/**
 * How a stream ends after its chunks:
 * - `done`: a chunk with `finish_reason`, the usage chunk (if asked for), `data: [DONE]`, end;
 * - `error`: an error object chunk `{"error": {...}}` (the step's `error`), then end;
 * - `break`: the TCP connection is destroyed (a crash mid-stream);
 * - `malformed`: a `data: {not json` line (or the step's `malformedLine`), then the response stays open;
 * - `hang`: nothing more, the response stays open (for timeouts and aborts);
 * - `end`: the response ends without a finish_reason or [DONE] (a truncated stream).
 */
export type FakeStreamEnd = 'done' | 'error' | 'break' | 'malformed' | 'hang' | 'end';

/** Answer with a 200 event stream of `chunks`, then `end`. */
export interface FakeStreamStep {
  kind: 'stream';
  chunks: FakeChunk[];
  /** Pause between events (0: write them all at once, so they arrive coalesced in few TCP reads). */
  intervalMs?: number;
  /** Write each event in two halves (split mid-line, possibly mid UTF-8 character), the second a tick later. */
  splitEvents?: boolean;
  /** For `end: 'done'`; default `stop`. */
  finishReason?: string;
  /** For `end: 'done'`; default `{prompt_tokens: 10, completion_tokens: chunks.length, ...}`. */
  usage?: FakeUsage;
  end?: FakeStreamEnd;
  /** For `end: 'error'`; default `{message: 'fake-openai: internal error', type: 'server_error', code: 500}`. */
  error?: { message?: string; type?: string; code?: number | string };
  malformedLine?: string;
  /** The `model` of every chunk; default the request's model. */
  model?: string;
  times?: number;
}

/** Answer with an HTTP status and a JSON body (default an OpenAI-style error object). */
export interface FakeStatusStep {
  kind: 'status';
  status: number;
  /** The `Retry-After` header (seconds or an HTTP date). */
  retryAfter?: number | string;
  body?: unknown;
  times?: number;
}

/** Read the request and never answer (until the client closes it or the fake closes). */
export interface FakeHangStep {
  kind: 'hang';
  times?: number;
}

export type FakeStep = FakeStreamStep | FakeStatusStep | FakeHangStep;

/** What the fake saw of one request. */
export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body (the raw text when it is not JSON). */
  readonly body: any;
  /** `Date.now()` when the request's body had arrived and the fake started answering. */
  readonly startedAt: number;
  /** `Date.now()` when the response's connection closed (finished, or closed by either side). */
  closedAt?: number;
  /**
   * True when the response closed before the fake had ended it: the client went away (an abort, a
   * timeout, the client giving up on a malformed stream), or the step's `end` was `break`.
   */
  abortedByClient?: boolean;
  /** Chunk events (of the step's `chunks`) written so far. */
  chunksWritten: number;
  /** Resolves with `closedAt`. */
  readonly closed: Promise<number>;
}

const SSE_HEADERS = { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive' };

export class FakeOpenAI {
  /** Base URL ending in `/v1`, as `AI_UPSTREAM_URL` takes it. */
  readonly url: string;
  /** Every request received, in arrival order. */
  readonly requests: FakeRequest[] = [];
  private readonly queue: Array<{ step: FakeStep; left: number }> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly arrivalWaiters = new Set<() => void>();
  private sequence = 0;

  private constructor(private readonly server: http.Server) {
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/v1`;
  }

  /** Starts a fake on 127.0.0.1, a free port. */
  static async start(): Promise<FakeOpenAI> {
    let fake: FakeOpenAI | undefined;
    const server = http.createServer((req, res) => fake?.onRequest(req, res));
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    fake = new FakeOpenAI(server);
    return fake;
  }

  /** A stream step. */
  static stream(chunks: FakeChunk[], options: Omit<FakeStreamStep, 'kind' | 'chunks'> = {}): FakeStreamStep {
    return { kind: 'stream', chunks, ...options };
  }

  /** A status step, e.g. `status(429, {retryAfter: 1})`, `status(503, {times: 4})`, `status(401)`. */
  static status(status: number, options: Omit<FakeStatusStep, 'kind' | 'status'> = {}): FakeStatusStep {
    return { kind: 'status', status, ...options };
  }

  /** A step that never answers. */
  static hang(options: Omit<FakeHangStep, 'kind'> = {}): FakeHangStep {
    return { kind: 'hang', ...options };
  }

  /**
   * `n` chunks of content `tok<i> ` (plus multi-byte text every 7th), optionally with reasoning
   * every `reasoningEvery` chunks (alternating `reasoning_content` and `reasoning`) and a tool call
   * `lookup({"cell":"A<i>"})` streamed in pieces over chunks `toolCallAt`..`toolCallAt+3`.
   */
  static tokens(n: number, options: { reasoningEvery?: number; toolCallAt?: number } = {}): FakeChunk[] {
    const chunks: FakeChunk[] = [];
    for (let i = 0; i < n; i++) {
      const chunk: FakeChunk = { content: i % 7 === 6 ? `é漢😀${i} ` : `tok${i} ` };
      if (options.reasoningEvery && i % options.reasoningEvery === 0) {
        chunk.reasoning = `think${i}. `;
        chunk.reasoningField = i % (2 * options.reasoningEvery) === 0 ? 'reasoning_content' : 'reasoning';
      }
      const at = options.toolCallAt;
      if (at !== undefined && i >= at && i < at + 4) {
        const pieces = ['{"cell"', ':"A', String(at), '"}'];
        chunk.toolCalls = [{ index: 0, arguments: pieces[i - at], ...(i === at ? { id: `call_${at}`, name: 'lookup' } : {}) }];
      }
      chunks.push(chunk);
    }
    return chunks;
  }

  /** Appends steps: each answers the next request(s) in order. Returns the fake, for chaining. */
  script(...steps: FakeStep[]): this {
    for (const step of steps) this.queue.push({ step, left: step.times ?? 1 });
    return this;
  }

  /** Resolves once `count` requests have arrived (their bodies read). */
  async waitForRequests(count: number): Promise<FakeRequest[]> {
    while (this.requests.length < count) await new Promise<void>((resolve) => this.arrivalWaiters.add(resolve));
    return this.requests.slice(0, count);
  }

  /** Stops streaming, destroys every connection and stops listening. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      let body: any = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* recorded as text */
      }
      let resolveClosed!: (at: number) => void;
      const record: FakeRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        startedAt: Date.now(),
        chunksWritten: 0,
        closed: new Promise<number>((resolve) => (resolveClosed = resolve)),
      };
      res.on('close', () => {
        record.closedAt = Date.now();
        record.abortedByClient = !res.writableEnded;
        resolveClosed(record.closedAt);
      });
      this.requests.push(record);
      for (const wake of [...this.arrivalWaiters]) {
        this.arrivalWaiters.delete(wake);
        wake();
      }
      if (req.method !== 'POST' || !/\/v1\/chat\/completions\/?(\?.*)?$/.test(req.url ?? '')) {
        this.json(res, 404, { error: { message: `fake-openai: no route ${req.method} ${req.url}`, type: 'invalid_request_error' } });
        return;
      }
      this.answer(this.nextStep(), record, res);
    });
  }

  private nextStep(): FakeStep {
    const head = this.queue[0];
    if (!head) return { kind: 'status', status: 500, body: { error: { message: 'fake-openai: no scripted step for this request', type: 'server_error' } } };
    if (--head.left <= 0) this.queue.shift();
    return head.step;
  }

  private answer(step: FakeStep, record: FakeRequest, res: ServerResponse): void {
    if (step.kind === 'hang') return;
    if (step.kind === 'status') {
      const body = step.body ?? { error: { message: `fake-openai: status ${step.status}`, type: 'fake_error', code: step.status } };
      this.json(res, step.status, body, step.retryAfter !== undefined ? { 'Retry-After': String(step.retryAfter) } : {});
      return;
    }
    void this.pump(step, record, res);
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  }

  private async pump(step: FakeStreamStep, record: FakeRequest, res: ServerResponse): Promise<void> {
    const id = `chatcmpl-fake-${++this.sequence}`;
    const model = step.model ?? (typeof record.body?.model === 'string' ? record.body.model : 'fake-model');
    const created = Math.floor(Date.now() / 1000);
    const event = (fields: Record<string, unknown>): string => `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, ...fields })}\n\n`;
    const gone = (): boolean => res.destroyed || res.writableEnded;
    const interval = step.intervalMs ?? 0;
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();

    for (let i = 0; i < step.chunks.length; i++) {
      if (i > 0 && interval > 0) await this.delay(interval);
      if (gone()) return;
      await this.write(res, event({ choices: [{ index: 0, delta: deltaOf(step.chunks[i], i === 0), finish_reason: null }] }), step.splitEvents);
      record.chunksWritten++;
    }
    if (interval > 0) await this.delay(interval);
    if (gone()) return;
    switch (step.end ?? 'done') {
      case 'done': {
        const usage = step.usage ?? { prompt_tokens: 10, completion_tokens: step.chunks.length, total_tokens: 10 + step.chunks.length };
        let tail = event({ choices: [{ index: 0, delta: {}, finish_reason: step.finishReason ?? 'stop' }] });
        if (record.body?.stream_options?.include_usage === true) tail += event({ choices: [], usage });
        res.end(`${tail}data: [DONE]\n\n`);
        return;
      }
      case 'error': {
        const error = { message: 'fake-openai: internal error', type: 'server_error', code: 500, ...step.error };
        res.end(`data: ${JSON.stringify({ error })}\n\n`);
        return;
      }
      case 'break':
        res.socket?.destroy();
        return;
      case 'malformed':
        res.write(`${step.malformedLine ?? 'data: {not json'}\n\n`);
        return;
      case 'hang':
        return;
      case 'end':
        res.end();
        return;
    }
  }

  private async write(res: ServerResponse, text: string, split?: boolean): Promise<void> {
    const bytes = Buffer.from(text, 'utf8');
    if (!split || bytes.length < 2) {
      res.write(bytes);
      return;
    }
    const mid = Math.floor(bytes.length / 2) | 1;
    res.write(bytes.subarray(0, mid));
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (!res.destroyed && !res.writableEnded) res.write(bytes.subarray(mid));
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }
}

function deltaOf(chunk: FakeChunk, first: boolean): Record<string, unknown> {
  const delta: Record<string, unknown> = first ? { role: 'assistant' } : {};
  if (chunk.content !== undefined) delta.content = chunk.content;
  if (chunk.reasoning !== undefined) delta[chunk.reasoningField ?? 'reasoning_content'] = chunk.reasoning;
  if (chunk.toolCalls) {
    delta.tool_calls = chunk.toolCalls.map((call) => ({
      index: call.index,
      ...(call.id ? { id: call.id, type: 'function' } : {}),
      function: { ...(call.name ? { name: call.name } : {}), ...(call.arguments !== undefined ? { arguments: call.arguments } : {}) },
    }));
  }
  return delta;
}
