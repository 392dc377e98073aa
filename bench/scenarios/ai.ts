import { join } from 'node:path';
import type { AiCommand, AiConnectResult, AiRunResult } from '../clients/ai-worker';
import { Histogram } from '../lib/histogram';
import { shareAmong } from '../lib/pool';
import { procfsSampler, type ProcSample, type Sampler } from '../lib/proc-stats';
import { forkChild, stopChild, type Child } from '../lib/procs';
import { WorkerRpc } from '../lib/worker-rpc';
import { nowUs, round } from '../lib/stats';
import { BENCH_LIMITS, startGateway, startScript, type Target } from '../servers/targets';
import { ensureTime, OutOfTime, quiesce, type Ctx } from './context';

/**
 * Scenario 8 (issue 9, AI streaming): `aiStreams` concurrent streams of `aiTokens` tokens, each
 * emitted at `aiTokenRate` tokens a second by a local fake Chat Completions upstream
 * (bench/servers/fake-upstream.ts, its own process), measured through
 * - the gateway as it ships (clients: Socket.IO on `/ai`, `ai_request` → `ai_event`s), once per
 *   `AI_PROGRESS_INTERVAL_MS` in `aiIntervals` (50, its default, where the coalescing alone delays a
 *   token by up to 50 ms; and 0, every delta sent at once), and
 * - a plain `http` SSE relay (bench/servers/sse-relay.ts; clients: fetch + a streaming reader),
 * all on the same upstream in the same run, repetitions interleaved. Per token: the latency the
 * path added (client receipt minus the upstream's write time, both on the machine's monotonic
 * clock); per path: server CPU time per token delivered, every token counted.
 */
export const AI_RELAY = 'sse relay (plain http)';
export const aiGatewayLabel = (intervalMs: number): string => `gateway, AI_PROGRESS_INTERVAL_MS=${intervalMs}`;

/** Tokens per stream of the unrecorded warm-up run of each path (JIT, connection pools). */
const WARM_UP_TOKENS = 100;
/** The first stream starts this long after the run command is sent (both client processes at once). */
const START_DELAY_MS = 200;

type Json = Record<string, unknown>;

/** Request/answer over IPC with one of our own children (`{type, id}` messages). */
function ask<T>(child: Child, type: string, timeoutMs = 10_000): Promise<T> {
  const id = Math.floor(Math.random() * 1e9);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.proc.off('message', on);
      reject(new Error(`${child.name}: no answer to ${type}`));
    }, timeoutMs);
    const on = (m: Json) => {
      if (m?.type !== type || m.id !== id) return;
      clearTimeout(timer);
      child.proc.off('message', on);
      resolve(m as T);
    };
    child.proc.on('message', on);
    child.proc.send({ type, id });
  });
}

/** Forks one of our server scripts and waits for its `ready {port}`. */
/** The scenario's client processes (bench/clients/ai-worker.ts). */
class AiClients {
  private readonly rpc: WorkerRpc<AiCommand>;

  constructor(readonly workers: Child[]) {
    this.rpc = new WorkerRpc<AiCommand>(workers);
  }

  static start(count: number, secret: string): AiClients {
    const script = join(__dirname, '..', 'clients', 'ai-worker.js');
    const env = { PATH: process.env.PATH, NODE_ENV: 'production', BENCH_JWT_SECRET: secret };
    return new AiClients(Array.from({ length: count }, (_, i) => forkChild(`ai-client-${i}`, script, env, ['--max-old-space-size=1024'])));
  }

  request<T>(worker: number, command: AiCommand, timeoutMs: number): Promise<T> {
    return this.rpc.request<T>(worker, command, timeoutMs);
  }

  /** Stream i of `total` belongs to worker i's share: [from(w), from(w) + share(w)). */

  stop(): Promise<void[]> {
    return Promise.all(this.workers.map((w) => stopChild(w, 'SIGKILL')));
  }
}

interface AiPath {
  label: string;
  mode: 'gateway' | 'relay';
  url: string;
  sample: Sampler;
  stop(): Promise<void>;
  /** All repetitions' tokens (p50/p99 over every token of the run, next to the per-repetition medians). */
  pooled: Histogram;
}

interface UpstreamCounts {
  requests: number;
  streamsDone: number;
  streamsAborted: number;
  tokens: number;
  lateSumMs: number;
  lateMaxMs: number;
}

export async function aiScenario(ctx: Ctx): Promise<void> {
  const { plan, results } = ctx;
  const n = plan.aiStreams;
  const wanted = (kind: string) => !plan.servers || plan.servers.has(kind);
  const upstream = await startScript('ai-upstream', 'fake-upstream.js', { AI_BENCH_TOKENS: String(plan.aiTokens), AI_BENCH_RATE: String(plan.aiTokenRate) });
  const upstreamUrl = `${upstream.url}/v1`;
  const upstreamSample = procfsSampler(upstream.child.pid);
  const clients = AiClients.start(plan.clients, ctx.start.secret);
  const shares = shareAmong(n, clients.workers.length);
  const paths: AiPath[] = [];
  const streamSeconds = plan.aiTokens / plan.aiTokenRate;
  const runTimeoutMs = Math.round(streamSeconds * 1000 + plan.aiStaggerMs + 30_000);
  ctx.log(`    upstream ${upstreamUrl}: ${n} streams x ${plan.aiTokens} tokens at ${plan.aiTokenRate} tokens/s, starts spread over ${plan.aiStaggerMs} ms; ${plan.clients} client processes`);

  const connect = async (label: string, url: string) => {
    const res = await Promise.all(
      shares.map((s, w) => clients.request<AiConnectResult>(w, { cmd: 'connect', url, group: label, from: s.from, count: s.count, concurrency: 50, timeoutMs: 15_000 }, 60_000)),
    );
    const failed = res.reduce((a, r) => a + r.failed, 0);
    if (failed) throw new Error(`${failed} of ${n} clients could not connect: ${[...new Set(res.flatMap((r) => r.errors))].join('; ')}`);
  };

  /** One run of every stream on one path (`tokens` each), on every client process at once. */
  const runOnce = async (p: AiPath, tag: string, tokens: number): Promise<AiRunResult[]> => {
    const startAtUs = nowUs() + START_DELAY_MS * 1000;
    return Promise.all(
      shares.map((s, w) =>
        clients.request<AiRunResult>(
          w,
          { cmd: 'run', mode: p.mode, group: p.label, url: p.url, tag, from: s.from, count: s.count, total: n, tokens, staggerMs: plan.aiStaggerMs, startAtUs, timeoutMs: runTimeoutMs },
          runTimeoutMs + 10_000,
        ),
      ),
    );
  };

  try {
    if (wanted('relay')) {
      const relay = await startScript('sse-relay', 'sse-relay.js', { UPSTREAM_URL: upstreamUrl });
      paths.push({ label: AI_RELAY, mode: 'relay', url: relay.url, sample: procfsSampler(relay.child.pid), stop: () => stopChild(relay.child, 'SIGKILL'), pooled: new Histogram() });
    }
    if (wanted('gateway')) {
      for (const interval of plan.aiIntervals) {
        const label = aiGatewayLabel(interval);
        ensureTime(ctx, 20_000, `ai ${label}`);
        let target: Target;
        try {
          target = await startGateway({
            ...ctx.start,
            gatewayEnv: { ...BENCH_LIMITS, AI_UPSTREAM_URL: upstreamUrl, AI_MODEL: 'bench-model', AI_PROGRESS_INTERVAL_MS: String(interval) },
          });
        } catch (err) {
          results.fail(`ai ${label}: ${(err as Error).message}`);
          continue;
        }
        const path: AiPath = { label, mode: 'gateway', url: target.urls[0], sample: target.sample, stop: () => target.stop(), pooled: new Histogram() };
        paths.push(path);
        try {
          await connect(label, path.url);
        } catch (err) {
          results.fail(`ai ${label}: ${(err as Error).message}`);
          paths.splice(paths.indexOf(path), 1);
          await path.stop();
        }
      }
    }

    for (const p of [...paths]) {
      ensureTime(ctx, WARM_UP_TOKENS * 10 + 20_000, `ai warm-up ${p.label}`);
      const warm = await runOnce(p, 'warm', WARM_UP_TOKENS);
      const ok = warm.reduce((a, r) => a + r.streamsOk, 0);
      ctx.log(`    ai ${p.label}: warm-up ${ok}/${n} streams of ${WARM_UP_TOKENS} tokens`);
      if (ok < n) {
        results.fail(`ai ${p.label}: warm-up failed, ${n - ok} of ${n} streams (${JSON.stringify(merge(warm.map((r) => r.errors)))})`);
        paths.splice(paths.indexOf(p), 1);
        await p.stop();
      }
    }

    for (let r = 0; r < plan.reps; r++) {
      for (const p of paths.map((_, i) => paths[(i + r) % paths.length])) {
        ensureTime(ctx, runTimeoutMs + 15_000, `ai ${p.label}`);
        await quiesce(p.sample, 5000);
        await quiesce(upstreamSample, 3000);
        const s0 = await p.sample();
        const u0 = await upstreamSample();
        const c0 = await ask<UpstreamCounts>(upstream.child, 'counts');
        const runs = await runOnce(p, `r${r + 1}`, plan.aiTokens);
        const s1 = await p.sample();
        const u1 = await upstreamSample();
        const c1 = await ask<UpstreamCounts>(upstream.child, 'counts');
        record(ctx, p, r, runs, { s0, s1, u0, u1, c0, c1 });
      }
    }
    for (const p of paths) {
      if (!p.pooled.count) continue;
      const pooled = { p50_all_ms: round(p.pooled.quantile(0.5) / 1000, 2), p99_all_ms: round(p.pooled.quantile(0.99) / 1000, 2) };
      results.add('ai', p.label, n, pooled);
      ctx.log(`    ai ${p.label}: added latency over all repetitions' ${p.pooled.count} tokens: p50 ${pooled.p50_all_ms} ms, p99 ${pooled.p99_all_ms} ms`);
    }
  } catch (err) {
    if (err instanceof OutOfTime) throw err;
    results.fail(`ai: ${(err as Error).message}`);
  } finally {
    await clients.stop().catch(() => undefined);
    for (const p of paths) await p.stop().catch(() => undefined);
    await stopChild(upstream.child, 'SIGKILL');
  }
}

const merge = (all: Array<Record<string, number>>): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const m of all) for (const [k, v] of Object.entries(m)) out[k] = (out[k] ?? 0) + v;
  return out;
};

function record(
  ctx: Ctx,
  p: AiPath,
  r: number,
  runs: AiRunResult[],
  m: { s0: ProcSample; s1: ProcSample; u0: ProcSample; u1: ProcSample; c0: UpstreamCounts; c1: UpstreamCounts },
): void {
  const { plan, results } = ctx;
  const n = plan.aiStreams;
  const hist = new Histogram();
  for (const x of runs) hist.merge(x.hist);
  p.pooled.merge(hist.toData());
  const sum = (f: (x: AiRunResult) => number) => runs.reduce((a, x) => a + f(x), 0);
  const tokens = sum((x) => x.tokens);
  const expected = sum((x) => x.expected);
  const active = runs.filter((x) => x.startUs > 0); // a client process with no stream (fewer streams than processes) has no phase
  const phaseUs = Math.max(...active.map((x) => x.endUs)) - Math.min(...active.map((x) => x.startUs));
  const upstreamTokens = m.c1.tokens - m.c0.tokens;
  const errors = merge(runs.map((x) => x.errors));
  const metrics = {
    tokens_delivered: tokens,
    tokens_missing: expected - tokens,
    streams_failed: sum((x) => x.streamsFailed),
    out_of_order: sum((x) => x.outOfOrder),
    ...(p.mode === 'gateway' ? { result_mismatches: sum((x) => x.resultMismatches) } : {}),
    cpu_us_per_token: round((m.s1.cpuUs - m.s0.cpuUs) / tokens, 2),
    server_cpu_util: round((m.s1.cpuUs - m.s0.cpuUs) / phaseUs, 2),
    p50_ms: round(hist.quantile(0.5) / 1000, 2),
    p99_ms: round(hist.quantile(0.99) / 1000, 2),
    max_ms: round(hist.maxUs / 1000, 1),
    tokens_per_event: round(tokens / Math.max(1, sum((x) => x.events)), 2),
    upstream_cpu_us_per_token: round((m.u1.cpuUs - m.u0.cpuUs) / Math.max(1, upstreamTokens), 2),
    upstream_late_ms: round((m.c1.lateSumMs - m.c0.lateSumMs) / Math.max(1, upstreamTokens), 2),
    client_cpu_util_max: round(Math.max(...active.map((x) => x.cpuUs / x.wallUs)), 2),
    phase_s: round(phaseUs / 1e6, 2),
  };
  results.add('ai', p.label, n, metrics);
  ctx.log(
    `    ai ${p.label} rep ${r + 1}: ${tokens}/${expected} tokens (${metrics.streams_failed} streams failed, ${metrics.out_of_order} out of order${p.mode === 'gateway' ? `, ${metrics.result_mismatches} results unequal to their deltas` : ''}), ` +
      `added latency p50 ${metrics.p50_ms} ms, p99 ${metrics.p99_ms} ms, max ${metrics.max_ms} ms; ${metrics.cpu_us_per_token} µs server CPU/token (${metrics.server_cpu_util} cores), ` +
      `${metrics.tokens_per_event} tokens/event; upstream ${metrics.upstream_cpu_us_per_token} µs CPU/token, timers ${metrics.upstream_late_ms} ms late on average; ` +
      `busiest client ${metrics.client_cpu_util_max} cores; ${metrics.phase_s} s${Object.keys(errors).length ? `; errors ${JSON.stringify(errors)}` : ''}`,
  );
  if (tokens < expected) results.warn(`ai ${p.label} rep ${r + 1}: ${expected - tokens} of ${expected} tokens not delivered (${JSON.stringify(errors)})`);
  if (metrics.out_of_order || metrics.result_mismatches) results.warn(`ai ${p.label} rep ${r + 1}: ${metrics.out_of_order} tokens out of order, ${metrics.result_mismatches ?? 0} results unequal to their deltas`);
  if (metrics.client_cpu_util_max > 0.9) {
    results.warn(`ai ${p.label}: a client process used ${Math.round(metrics.client_cpu_util_max * 100)}% of a core: the latency includes the client's own queueing`);
  }
  if (upstreamTokens !== expected) results.warn(`ai ${p.label} rep ${r + 1}: the upstream wrote ${upstreamTokens} tokens, ${expected} expected`);
}
