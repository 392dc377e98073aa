import type { AckResult } from '../clients/commands';
import { Histogram } from '../lib/histogram';
import { round } from '../lib/stats';
import { startCluster, startGateway, startSocketio } from '../servers/targets';
import { OutOfTime, ensureTime, type Ctx } from './context';
import { CLUSTER, SINGLE } from './fanout';
import { setUp, type Live } from './room';

/**
 * Scenario 6 (collaboration): one member of a room of `cellRoomSize` sends cell updates at a steady
 * `cellRate` per second (each to a cell of its own, new to the store, so every update applies);
 * ack round-trip latency and server CPU per update, for the gateway (one pod, and two pods where
 * the compare-and-set goes through Redis) against the Socket.IO path (bare socket.io: the same
 * broadcast and an ack).
 */
export async function cellsScenario(ctx: Ctx): Promise<void> {
  const { plan, pool, results } = ctx;
  const n = plan.cellRoomSize;
  const entries = [
    { label: 'socketio', start: () => startSocketio(ctx.start) },
    { label: SINGLE, start: () => startGateway(ctx.start) },
    { label: CLUSTER, start: () => startCluster(ctx.start, plan.clusterPods) },
  ];
  const live: Live[] = [];
  try {
    for (const e of entries) {
      ensureTime(ctx, 6000, `cells ${e.label}`);
      try {
        const l = { label: e.label, target: await e.start() };
        live.push(l);
        await setUp(ctx, l, n, {});
      } catch (err) {
        if (err instanceof OutOfTime) throw err;
        results.fail(`cells ${e.label}: ${(err as Error).message}`);
      }
    }
    for (let r = 0; r < plan.reps; r++) {
      for (const l of live) {
        ensureTime(ctx, 10_000, `cells ${l.label}`);
        const before = await l.target.sample();
        const res = await pool.request<AckResult>(0, { cmd: 'acks', group: l.label, cellId: `r${r + 1}`, count: plan.cellUpdates, ratePerS: plan.cellRate, timeoutMs: 60_000 }, 60_000);
        const after = await l.target.sample();
        if (res.errors.length) {
          results.fail(`cells ${l.label}: ${res.errors.join('; ')}`);
          continue;
        }
        const hist = new Histogram();
        hist.merge(res.hist);
        const metrics = {
          ack_p50_ms: round(hist.quantile(0.5) / 1000, 2),
          ack_p99_ms: round(hist.quantile(0.99) / 1000, 2),
          max_ms: round(hist.maxUs / 1000, 2),
          updates_per_s: round(res.done / (res.wallUs / 1e6), 0),
          cpu_us_per_update: round((after.cpuUs - before.cpuUs) / res.done, 1),
        };
        results.add('cells', l.label, n, metrics);
        ctx.log(`    cells ${l.label} N=${n}: ack p50 ${metrics.ack_p50_ms} ms, p99 ${metrics.ack_p99_ms} ms, ${metrics.updates_per_s} updates/s, ${metrics.cpu_us_per_update} µs CPU/update`);
      }
    }
  } finally {
    for (const l of live) {
      await l.target.stop();
      await pool.close(l.label).catch(() => undefined);
    }
  }
}
