import type { PhaseResult } from '../clients/pool';
import { nowUs, round } from '../lib/stats';
import type { Target } from '../servers/targets';
import { ensureTime, OutOfTime, quiesce, type Ctx } from './context';

/**
 * Rooms of N clients on several targets at once: each target gets its own client group (connect,
 * join, all acked, then wait until the server is idle), and the measured repetitions alternate
 * between the targets (rotating who goes first), so each sees the same load from the rest of the
 * machine. Targets are stopped before their clients close, so a gateway never pushes leave events.
 */
export const ROOM = 'bench';

export interface Entry {
  label: string;
  start: () => Promise<Target>;
  /** Gateway clients on the native seed 002 endpoint instead of Socket.IO. */
  native?: boolean;
}

export interface RoomOptions {
  fanoutScenario?: string;
  steadyScenario?: string;
  /** Also the flood with one message in flight at a time (nothing to coalesce), recorded under this scenario. */
  singleScenario?: string;
}

export interface Live {
  label: string;
  target: Target;
  native?: boolean;
}

export async function roomsBench(ctx: Ctx, entries: Entry[], n: number, opts: RoomOptions): Promise<void> {
  const { plan, pool, results } = ctx;
  const scenario = opts.fanoutScenario ?? opts.steadyScenario ?? 'room';
  let live: Live[] = [];
  const drop = async (l: Live, err: Error) => {
    results.fail(`${scenario} ${l.label} N=${n}: ${err.message}`);
    ctx.log(`  ${scenario} ${l.label} N=${n} FAILED: ${err.message}`);
    live = live.filter((x) => x !== l);
    await l.target.stop();
    await pool.close(l.label).catch(() => undefined);
  };
  /** Runs `fn` for one target; a failure drops that target only, running out of time ends all. */
  const guarded = async (l: Live, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      if (err instanceof OutOfTime) throw err;
      await drop(l, err as Error);
    }
  };
  try {
    for (const e of entries) {
      ensureTime(ctx, 6000, `${scenario} ${e.label} N=${n}`);
      let target: Target;
      try {
        target = await e.start();
      } catch (err) {
        results.fail(`${scenario} ${e.label} N=${n}: ${(err as Error).message}`);
        continue;
      }
      const l = { label: e.label, target, native: e.native };
      live.push(l);
      await guarded(l, () => setUp(ctx, l, n, opts));
    }
    const messages = Math.max(10, Math.round(plan.deliveriesPerRep / n));
    const window = Math.max(2, Math.round(plan.windowDeliveries / n));
    const flood = (l: Live, count: number) => measure(ctx, l, { count, rate: 0, window, timeoutMs: 15_000 + (count * n) / 5 });
    for (const l of [...live]) await guarded(l, async () => void (await flood(l, Math.min(messages, 50)))); // warm-up, not recorded

    for (let r = 0; opts.fanoutScenario && r < plan.reps; r++) {
      for (const l of rotate(live, r)) {
        ensureTime(ctx, 5000, `${opts.fanoutScenario} ${l.label} N=${n}`);
        await guarded(l, async () => record(ctx, opts.fanoutScenario!, l.label, n, await flood(l, messages)));
      }
    }
    const single = (l: Live, count: number) => measure(ctx, l, { count, rate: 0, window: 1, timeoutMs: 15_000 + count * 50 });
    for (let r = 0; opts.singleScenario && r < plan.reps; r++) {
      for (const l of rotate(live, r)) {
        ensureTime(ctx, 5000, `${opts.singleScenario} ${l.label} N=${n}`);
        await guarded(l, async () => record(ctx, opts.singleScenario!, l.label, n, await single(l, Math.min(messages, 200))));
      }
    }
    const count = Math.round(plan.steadyRate * plan.steadySeconds);
    for (let r = 0; opts.steadyScenario && r < plan.reps; r++) {
      for (const l of rotate(live, r)) {
        ensureTime(ctx, plan.steadySeconds * 1000 + 5000, `${opts.steadyScenario} ${l.label}`);
        await guarded(l, async () => {
          const m = await measure(ctx, l, { count, rate: plan.steadyRate, window: 0, timeoutMs: plan.steadySeconds * 1000 + 20_000 });
          record(ctx, opts.steadyScenario!, l.label, n, m, true);
        });
      }
    }
  } finally {
    for (const l of live) {
      await l.target.stop();
      await pool.close(l.label).catch(() => undefined);
    }
  }
}

/** The list started at its `by`-th element: each repetition another goes first. */
export const rotate = <T>(xs: T[], by: number): T[] => xs.map((_, i) => xs[(i + by) % xs.length]);

export async function setUp(ctx: Ctx, l: Live, n: number, opts: RoomOptions): Promise<void> {
  const { pool, plan } = ctx;
  const conn = await pool.connect(l.label, l.target.kind, l.target.urls, ROOM, n, plan.connectConcurrency, 20_000, l.native);
  if (conn.failed) throw new Error(`${conn.failed} of ${n} connections failed: ${conn.errors.join('; ')}`);
  const joinBound = Math.min(plan.joinTimeoutMs, ctx.deadline - Date.now() - 5000);
  const join = await pool.join(l.label, ROOM, 50, joinBound);
  if (join.failed) {
    throw new Error(`${join.failed} of ${n} joins not done within the ${round(joinBound / 1000)} s join bound (${join.errors.join('; ')}); meanwhile the clients received ${describePushes(join.pushes)}`);
  }
  const joinS = (join.endUs - join.startUs) / 1e6;
  await quiesce(l.target.sample, 120_000);
  const settledS = (nowUs() - join.startUs) / 1e6;
  const pushes = await pool.pushes();
  const mb = Object.values(pushes).reduce((a, p) => a + p.bytes, 0) / 1e6;
  ctx.log(`  ${l.label} N=${n}: connected in ${round((conn.endUs - conn.startUs) / 1e6, 2)} s, joins acked in ${round(joinS, 2)} s, server idle after ${round(settledS, 2)} s; pushes received while joining: ${describePushes(pushes)}`);
  if (opts.fanoutScenario && l.target.kind !== 'ws') ctx.results.add(opts.fanoutScenario, l.label, n, { join_s: round(settledS, 2), join_push_mb: round(mb, 1) });
}

function describePushes(pushes: Record<string, { frames: number; bytes: number }>): string {
  const parts = Object.entries(pushes).map(([k, p]) => `${k} ${p.frames} frames / ${round(p.bytes / 1e6, 1)} MB`);
  return parts.length ? parts.join(', ') : 'none';
}

interface Measured {
  phase: PhaseResult;
  serverCpuUs: number;
  /** The kernel's part of serverCpuUs. */
  serverSysUs: number;
  wallUs: number;
  side: Record<string, number>;
}

async function measure(ctx: Ctx, l: Live, o: { count: number; rate: number; window: number; timeoutMs: number }): Promise<Measured> {
  const { target } = l;
  const sideNames = Object.keys(target.side);
  const before = await Promise.all([target.sample(), ...sideNames.map((k) => target.side[k]())]);
  const t0 = nowUs();
  const phase = await ctx.pool.phase({ group: l.label, phase: ctx.nextPhase(), room: ROOM, count: o.count, rate: o.rate, window: o.window, bytes: ctx.plan.payloadBytes, timeoutMs: o.timeoutMs });
  const after = await Promise.all([target.sample(), ...sideNames.map((k) => target.side[k]())]);
  const side: Record<string, number> = {};
  sideNames.forEach((k, i) => (side[k] = after[i + 1].cpuUs - before[i + 1].cpuUs));
  if (phase.publish.error) {
    const missing = /UNKNOWN_MESSAGE_TYPE/.test(phase.publish.error)
      ? ' -- the server does not handle the fan-out message (see gatewayChat in bench/clients/protocol.ts)'
      : '';
    throw new Error(`publish failed: ${phase.publish.error}${missing}`);
  }
  if (phase.received < phase.expected) {
    throw new Error(`only ${phase.received} of ${phase.expected} deliveries arrived (${JSON.stringify(phase.errors)}, ${phase.closed} connections closed)`);
  }
  return { phase, serverCpuUs: after[0].cpuUs - before[0].cpuUs, serverSysUs: after[0].sysUs - before[0].sysUs, wallUs: nowUs() - t0, side };
}

function record(ctx: Ctx, scenario: string, server: string, n: number, m: Measured, steady = false): void {
  const { phase } = m;
  const deliveries = phase.received;
  const spanS = (phase.lastUs - phase.publish.startUs) / 1e6;
  const clientUtil = phase.clientUtilMax;
  const serverUtil = m.serverCpuUs / m.wallUs;
  const metrics: Record<string, number> = {
    deliveries_per_s: round(deliveries / spanS, 0),
    cpu_us_per_delivery: round(m.serverCpuUs / deliveries, 2),
    // The kernel's share: with nothing to coalesce, mostly the write system call per recipient.
    sys_us_per_delivery: round(m.serverSysUs / deliveries, 2),
    p50_ms: round(phase.hist.quantile(0.5) / 1000, 2),
    p99_ms: round(phase.hist.quantile(0.99) / 1000, 2),
    max_ms: round(phase.hist.maxUs / 1000, 2),
    server_cpu_util: round(serverUtil, 2),
    client_cpu_util_max: round(clientUtil, 2),
  };
  if (steady) metrics.rate_achieved_per_s = round(phase.publish.sent / ((phase.publish.endUs - phase.publish.startUs) / 1e6), 1);
  if (m.side.redis !== undefined) metrics.redis_cpu_us_per_delivery = round(m.side.redis / deliveries, 2);
  ctx.results.add(scenario, server, n, metrics);
  ctx.log(
    `    ${scenario} ${server} N=${n}: ${metrics.deliveries_per_s} deliveries/s, ${metrics.cpu_us_per_delivery} µs CPU/delivery, ` +
      `p50 ${metrics.p50_ms} ms, p99 ${metrics.p99_ms} ms, max ${metrics.max_ms} ms, server ${metrics.server_cpu_util} cores, busiest client ${metrics.client_cpu_util_max}`,
  );
  if (clientUtil > 0.9) {
    ctx.results.warn(`${scenario} ${server} N=${n}: a client process used ${Math.round(clientUtil * 100)}% of a core: the clients may be the bottleneck, trust CPU per delivery over deliveries/s`);
  }
  if (!steady && serverUtil < 0.75) {
    ctx.results.warn(`${scenario} ${server} N=${n}: the server used only ${Math.round(serverUtil * 100)}% of a core while flooding: something else (clients, other load on the machine) limited the rate`);
  }
}
