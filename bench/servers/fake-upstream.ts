import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerStatsRequests, listenAddress } from './ipc-stats';

/**
 * The AI scenario's upstream (bench/scenarios/ai.ts): a fake OpenAI-compatible Chat Completions
 * server, its own child process on 127.0.0.1, that streams every request (`stream: true`) as a
 * real model server does: one `data: {chat.completion.chunk}` server-sent event per token, a
 * finish chunk, the usage chunk when `stream_options.include_usage` asks for it, `data: [DONE]`.
 *
 * Each request gets `AI_BENCH_TOKENS` tokens (or `tokens=<n>` found in its last message) at
 * `AI_BENCH_RATE` tokens a second, each token scheduled at start + i / rate (no drift) on a timer
 * of its own stream. A token's text is `t<seq>@<ms> `, where `<ms>` is the machine's monotonic
 * clock (CLOCK_MONOTONIC, `process.hrtime`, shared by every process on the machine) in
 * milliseconds with microsecond decimals, read just before the event is written: a client
 * reading the token computes the latency the path added after the upstream's write.
 *
 * Over IPC: `ready` with the port; `stats` as the baselines; `counts` (requests, tokens written,
 * how late the timers fired) for the harness's report.
 */

const TOKENS = Number(process.env.AI_BENCH_TOKENS ?? 500);
const RATE = Number(process.env.AI_BENCH_RATE ?? 100);
const MAX_TOKENS = 100_000;
const SSE_HEADERS = { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive' };

const monoMs = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;

const counts = {
  requests: 0,
  streamsDone: 0,
  /** Streams whose client went away before the end. */
  streamsAborted: 0,
  tokens: 0,
  /** Sum and max of how late each token's timer fired after its scheduled time, ms. */
  lateSumMs: 0,
  lateMaxMs: 0,
};

let sequence = 0;

function tokensOf(body: unknown): number {
  const messages = (body as { messages?: Array<{ content?: unknown }> } | undefined)?.messages;
  const last = Array.isArray(messages) ? messages[messages.length - 1]?.content : undefined;
  const m = typeof last === 'string' ? /tokens=(\d+)/.exec(last) : null;
  return m ? Math.min(MAX_TOKENS, Number(m[1])) : TOKENS;
}

function stream(body: { model?: unknown; stream_options?: { include_usage?: unknown } } | undefined, res: ServerResponse): void {
  const n = tokensOf(body);
  const id = `chatcmpl-bench-${++sequence}`;
  const model = typeof body?.model === 'string' ? body.model : 'bench-model';
  const created = Math.floor(Date.now() / 1000);
  const head = `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":{`;
  const intervalMs = 1000 / RATE;
  res.socket?.setNoDelay(true);
  res.writeHead(200, SSE_HEADERS);
  res.flushHeaders();
  const start = monoMs();
  let i = 0;
  let timer: NodeJS.Timeout | undefined;
  res.on('close', () => {
    clearTimeout(timer);
    if (!res.writableEnded) counts.streamsAborted++;
  });
  const next = (): void => {
    if (res.destroyed || res.writableEnded) return;
    const now = monoMs();
    const late = now - (start + i * intervalMs);
    counts.lateSumMs += Math.max(0, late);
    if (late > counts.lateMaxMs) counts.lateMaxMs = late;
    const role = i === 0 ? '"role":"assistant",' : '';
    res.write(`${head}${role}"content":"t${i}@${monoMs().toFixed(3)} "},"finish_reason":null}]}\n\n`);
    counts.tokens++;
    i++;
    if (i < n) {
      timer = setTimeout(next, Math.max(0, start + i * intervalMs - monoMs()));
      return;
    }
    let tail = `${head}},"finish_reason":"stop"}]}\n\n`;
    if (body?.stream_options?.include_usage === true) {
      tail += `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":${n},"total_tokens":${10 + n}}}\n\n`;
    }
    res.end(`${tail}data: [DONE]\n\n`);
    counts.streamsDone++;
  };
  next();
}

function onRequest(req: IncomingMessage, res: ServerResponse): void {
  const parts: Buffer[] = [];
  req.on('data', (p: Buffer) => parts.push(p));
  req.on('end', () => {
    counts.requests++;
    if (req.method !== 'POST' || !/\/chat\/completions\/?$/.test(req.url ?? '')) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' } }));
      return;
    }
    let body: any;
    try {
      body = JSON.parse(Buffer.concat(parts).toString('utf8'));
    } catch {
      body = undefined;
    }
    if (body?.stream !== true) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'the bench upstream only streams', type: 'invalid_request_error' } }));
      return;
    }
    stream(body, res);
  });
}

const server = createServer({ noDelay: true }, onRequest);
server.keepAliveTimeout = 30_000;
answerStatsRequests();
process.on('message', (msg: { type?: string; id?: number }) => {
  if (msg?.type !== 'counts') return;
  process.send?.({ type: 'counts', id: msg.id, ...counts });
});
const { port, host } = listenAddress();
server.listen(port, host, () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});
