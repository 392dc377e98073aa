import jwt from 'jsonwebtoken';
import { Histogram, type HistogramData } from '../lib/histogram';
import { nowUs, sleep } from '../lib/stats';
import { Conn } from './conn';
import { serveCommands } from '../lib/worker-rpc';

/**
 * A load-generator process of the AI scenario (bench/scenarios/ai.ts), driven over IPC. It holds
 * the scenario's streams of one share of the clients:
 * - gateway: one lean Socket.IO v4 connection per stream on `/ai` (a `sub` of its own), which
 *   sends `ai_request` (acked) and reads its `ai_event`s: the tokens of every `ai_progress` delta,
 *   and `ai_complete`, whose `result` must equal the concatenation of the deltas;
 * - relay: one `fetch` per stream to the plain SSE relay, its body read with a streaming reader.
 * Every token's text is `t<seq>@<ms> ` (the upstream's monotonic write time): its added latency is
 * receipt minus that time. Tokens must arrive in order and all of them (counted per stream).
 */

export type AiCommand =
  | { cmd: 'connect'; url: string; group: string; from: number; count: number; concurrency: number; timeoutMs: number }
  | { cmd: 'run'; mode: 'gateway' | 'relay'; group: string; url: string; tag: string; from: number; count: number; total: number; tokens: number; staggerMs: number; startAtUs: number; timeoutMs: number }
  | { cmd: 'close'; group: string };

export interface AiConnectResult {
  connected: number;
  failed: number;
  errors: string[];
}

export interface AiRunResult {
  hist: HistogramData;
  /** Tokens received (each counted once, in order or not). */
  tokens: number;
  expected: number;
  /** Frames that carried tokens (gateway: ai_progress events; relay: body chunks read). */
  events: number;
  streamsOk: number;
  streamsFailed: number;
  /** Tokens that did not come right after the previous one of their stream. */
  outOfOrder: number;
  /** Gateway: streams whose ai_complete result differed from the concatenated deltas. */
  resultMismatches: number;
  /** Failures by kind: `ack:<code>`, `ai_error:<code>`, `event:<name>`, `timeout`, `http:<status>`... */
  errors: Record<string, number>;
  cpuUs: number;
  wallUs: number;
  /** First request sent and last stream finished, on the shared monotonic clock. */
  startUs: number;
  endUs: number;
}

const TOKEN = /t(\d+)@(\d+\.\d+) /g;

interface StreamState {
  requestId: string;
  next: number;
  text: string;
  done: boolean;
  finish?: (ok: boolean) => void;
}

interface Tally {
  hist: Histogram;
  tokens: number;
  events: number;
  outOfOrder: number;
  resultMismatches: number;
  errors: Record<string, number>;
}

const bump = (m: Record<string, number>, k: string) => void (m[k] = (m[k] ?? 0) + 1);

/** Records every token in `text` received at `atUs`; returns the stream's next expected seq. */
function tokensIn(text: string, atUs: number, next: number, tally: Tally): number {
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m; m = TOKEN.exec(text)) {
    const seq = Number(m[1]);
    if (seq !== next) tally.outOfOrder++;
    next = seq + 1;
    tally.tokens++;
    tally.hist.record(atUs - Math.round(Number(m[2]) * 1000));
  }
  return next;
}

interface GatewayGroup {
  conns: Conn[];
  streams: Array<StreamState | undefined>;
  tally?: Tally;
}
const groups = new Map<string, GatewayGroup>();

async function connect(c: Extract<AiCommand, { cmd: 'connect' }>): Promise<AiConnectResult> {
  const g: GatewayGroup = { conns: [], streams: [] };
  groups.set(c.group, g);
  const secret = process.env.BENCH_JWT_SECRET ?? '';
  let failed = 0;
  const errors: string[] = [];
  let next = 0;
  const lane = async () => {
    while (next < c.count) {
      const i = next++;
      const sub = `ai-user-${c.from + i}`;
      const token = jwt.sign({ sub, name: `AI user ${c.from + i}` }, secret, { algorithm: 'HS256', expiresIn: '1h' });
      const conn = new Conn(
        { url: `${c.url}/socket.io/?EIO=4&transport=websocket`, mode: 'sio', namespace: '/ai', auth: { token }, userId: sub, receiveEvent: '\u0000none', ignoredEvents: [], timeoutMs: c.timeoutMs },
        {
          delivery: () => undefined,
          ignored: () => undefined,
          event: (name, payload) => onEvent(g, i, name, payload),
          closed: () => {
            const s = g.streams[i];
            if (s && !s.done) {
              if (g.tally) bump(g.tally.errors, 'closed');
              s.finish?.(false);
            }
          },
        },
      );
      try {
        await conn.open();
        g.conns[i] = conn;
      } catch (err) {
        failed++;
        if (errors.length < 3 && !errors.includes((err as Error).message)) errors.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(c.concurrency, c.count) }, lane));
  return { connected: c.count - failed, failed, errors };
}

interface AiEvent {
  event_type?: string;
  request_id?: string;
  data?: { delta?: string; result?: string; code?: string };
}

function onEvent(g: GatewayGroup, i: number, name: string, payload: unknown): void {
  const at = nowUs();
  const s = g.streams[i];
  const tally = g.tally;
  if (!tally) return;
  if (name !== 'ai_event') {
    bump(tally.errors, `event:${name}${name === 'error' ? `:${(payload as { code?: string })?.code}` : ''}`);
    return;
  }
  const e = payload as AiEvent;
  if (!s || s.done || e.request_id !== s.requestId) {
    bump(tally.errors, 'event:ai_event for another request');
    return;
  }
  switch (e.event_type) {
    case 'ai_progress': {
      const delta = e.data?.delta ?? '';
      tally.events++;
      s.text += delta;
      s.next = tokensIn(delta, at, s.next, tally);
      return;
    }
    case 'ai_complete':
      if (e.data?.result !== s.text) tally.resultMismatches++;
      s.finish?.(true);
      return;
    case 'ai_error':
      bump(tally.errors, `ai_error:${e.data?.code}`);
      s.finish?.(false);
      return;
    default:
      return;
  }
}

/** Runs the streams of this worker's share: stream k of the run starts at startAtUs + k * stagger / total. */
async function run(c: Extract<AiCommand, { cmd: 'run' }>): Promise<AiRunResult> {
  const tally: Tally = { hist: new Histogram(), tokens: 0, events: 0, outOfOrder: 0, resultMismatches: 0, errors: {} };
  const g = c.mode === 'gateway' ? groups.get(c.group) : undefined;
  if (c.mode === 'gateway') {
    if (!g) throw new Error(`no connections for ${c.group}`);
    g.tally = tally;
    g.streams = [];
  }
  const cpu0 = process.cpuUsage();
  const wall0 = nowUs();
  const deadline = Date.now() + c.timeoutMs;
  let ok = 0;
  let failed = 0;
  let startUs = 0;
  const one = async (i: number): Promise<void> => {
    const k = c.from + i;
    const waitMs = (c.startAtUs + (k * c.staggerMs * 1000) / c.total - nowUs()) / 1000;
    if (waitMs > 0) await sleep(waitMs);
    if (!startUs) startUs = nowUs();
    const good = c.mode === 'gateway' ? await gatewayStream(c, g!, i, tally, deadline) : await relayStream(c, tally, deadline);
    if (good) ok++;
    else failed++;
  };
  await Promise.all(Array.from({ length: c.count }, (_, i) => one(i)));
  const endUs = nowUs();
  if (g) g.tally = undefined;
  const cpu = process.cpuUsage(cpu0);
  return {
    hist: tally.hist.toData(),
    tokens: tally.tokens,
    expected: c.count * c.tokens,
    events: tally.events,
    streamsOk: ok,
    streamsFailed: failed,
    outOfOrder: tally.outOfOrder,
    resultMismatches: tally.resultMismatches,
    errors: tally.errors,
    cpuUs: cpu.user + cpu.system,
    wallUs: endUs - wall0,
    startUs,
    endUs,
  };
}

function gatewayStream(c: Extract<AiCommand, { cmd: 'run' }>, g: GatewayGroup, i: number, tally: Tally, deadline: number): Promise<boolean> {
  const conn = g.conns[i];
  if (!conn?.isOpen) {
    bump(tally.errors, 'not connected');
    return Promise.resolve(false);
  }
  return new Promise<boolean>((resolve) => {
    const s: StreamState = { requestId: `${c.tag}-${c.from + i}`, next: 0, text: '', done: false };
    const timer = setTimeout(() => {
      bump(tally.errors, 'timeout');
      s.finish?.(false);
    }, Math.max(1, deadline - Date.now()));
    s.finish = (good) => {
      if (s.done) return;
      s.done = true;
      clearTimeout(timer);
      resolve(good && s.next === c.tokens);
    };
    g.streams[i] = s;
    conn.emit('ai_request', { request_id: s.requestId, query: `bench tokens=${c.tokens}` }, (ack) => {
      const a = ack as { ok?: boolean; request_id?: string; status?: string; error?: { code?: string } } | undefined;
      const started = a?.status === 'started' || a?.ok === true;
      if (!started) {
        bump(tally.errors, `ack:${a?.error?.code ?? JSON.stringify(ack).slice(0, 60)}`);
        s.finish?.(false);
      }
    });
  });
}

async function relayStream(c: Extract<AiCommand, { cmd: 'run' }>, tally: Tally, deadline: number): Promise<boolean> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(1, deadline - Date.now()));
  let next = 0;
  let sawDone = false;
  try {
    const res = await fetch(`${c.url}/stream?tokens=${c.tokens}`, { signal: controller.signal });
    if (res.status !== 200 || !res.body) {
      bump(tally.errors, `http:${res.status}`);
      await res.body?.cancel();
      return false;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let pending = '';
    for (;;) {
      const chunk = await reader.read();
      const at = nowUs();
      if (chunk.done) break;
      pending += decoder.decode(chunk.value, { stream: true });
      const end = pending.lastIndexOf('\n\n');
      if (end < 0) continue;
      const events = pending.slice(0, end);
      pending = pending.slice(end + 2);
      tally.events++;
      next = tokensIn(events, at, next, tally);
      if (events.endsWith('data: [DONE]')) sawDone = true;
    }
    if (!sawDone) bump(tally.errors, 'relay: body ended without [DONE]');
    return sawDone && next === c.tokens;
  } catch (err) {
    bump(tally.errors, controller.signal.aborted ? 'timeout' : `relay: ${(err as Error).message}`);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

async function handle(c: AiCommand): Promise<unknown> {
  switch (c.cmd) {
    case 'connect':
      return connect(c);
    case 'run':
      return run(c);
    case 'close':
      for (const conn of groups.get(c.group)?.conns ?? []) conn?.close();
      groups.delete(c.group);
      return {};
  }
}

serveCommands(handle);
