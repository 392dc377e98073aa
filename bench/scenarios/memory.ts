import { round, sleep } from '../lib/stats';
import { startTarget, type Target } from '../servers/targets';
import { ensureTime, quiesce, settledRss, type Ctx } from './context';
import { guarded, serversOf } from './fanout';
import { ROOM, rotate } from './room';

/**
 * Scenario 3 on a fresh server each time (started with the V8 inspector, used only to run a full
 * GC before each memory sample and read the JS heap in use): a warm-up of 200 connections (closed
 * again), memory before, a connect storm to N (handshake done: for the gateway, JWT verified and
 * namespace CONNECT received), memory once idle again. The storm's rate is recorded as
 * `connect_cold`: the full GC before it leaves the server's code cold (scenarios/connect.ts
 * measures the warm storm). Repetitions are the outer loop so that the servers alternate under
 * the same load, each repetition in another order.
 */
async function memory(target: Target): Promise<{ rss: number; heap: number }> {
  await quiesce(target.sample, 5000);
  await target.inspector?.gc();
  const rss = await settledRss(target.sample, 3000);
  return { rss, heap: (await target.inspector?.heapUsed()) ?? NaN };
}

const WARM_UP = 200;

export async function memoryScenario(ctx: Ctx): Promise<void> {
  const { plan, pool, results } = ctx;
  for (const n of plan.memorySizes) {
    for (let r = 0; r < plan.reps; r++) {
      // Another server goes first each repetition: the one after a storm meets client processes
      // still collecting the garbage of the storm before.
      for (const kind of rotate(serversOf(ctx), r)) {
        await guarded(ctx, `memory/connect ${kind} N=${n}`, async () => {
          ensureTime(ctx, 15_000, `memory ${kind} N=${n}`);
          const target = await startTarget(kind, { ...ctx.start, inspect: true });
          try {
            // Warm-up: a small storm, closed again, so that the measured one meets JIT-compiled code.
            const warm = await pool.connect(`${kind}-warm`, kind, target.urls, ROOM, WARM_UP, plan.connectConcurrency, 20_000);
            await pool.close(`${kind}-warm`);
            if (warm.failed) throw new Error(`warm-up: ${warm.failed} of ${WARM_UP} connections failed: ${warm.errors.join('; ')}`);
            await sleep(300);
            const m0 = await memory(target);
            const s0 = await target.sample();
            const storm = await pool.connect(kind, kind, target.urls, ROOM, n, plan.connectConcurrency, 20_000);
            const s1 = await target.sample();
            if (storm.failed) throw new Error(`${storm.failed} of ${n} connections failed: ${storm.errors.join('; ')}`);
            const seconds = (storm.endUs - storm.startUs) / 1e6;
            await sleep(300);
            const m1 = await memory(target);
            const connect = { connects_per_s: round(n / seconds, 0), cpu_us_per_connect: round((s1.cpuUs - s0.cpuUs) / n, 1) };
            const mem = { rss_per_conn_kb: round((m1.rss - m0.rss) / n / 1024, 2), heap_per_conn_kb: round((m1.heap - m0.heap) / n / 1024, 2) };
            results.add('connect_cold', kind, n, connect);
            results.add('memory', kind, n, mem);
            ctx.log(
              `    connect/memory ${kind} N=${n}: ${connect.connects_per_s} connects/s, ${connect.cpu_us_per_connect} µs CPU/connect, ` +
                `${mem.rss_per_conn_kb} KB RSS/conn (${round(m0.rss / 2 ** 20)} -> ${round(m1.rss / 2 ** 20)} MB), ${mem.heap_per_conn_kb} KB heap/conn`,
            );
          } finally {
            await target.stop();
            await pool.close(kind).catch(() => undefined);
          }
        });
      }
    }
  }
}
