import type { ClientPool } from '../clients/pool';
import { mainThreadCpuUs } from '../lib/proc-stats';
import { round, sleep } from '../lib/stats';
import { SOCKETIO_JWT, startSocketioJwt, startTarget, type Target } from '../servers/targets';
import { ensureTime, quiesce, type Ctx } from './context';
import { guarded, serversOf } from './fanout';
import { ROOM, rotate, type Entry } from './room';

/**
 * The connect storm on warm code: a fresh server, a warm-up storm of the same N connections
 * (closed again), the server idle, then the measured storm of N. Both the server's and the client
 * processes' handlers are compiled by then, as in a pod that has been serving for a while.
 *
 * The memory scenario's storm (recorded as `connect_cold`) is the other case: the first storm
 * after 200 warm-up connections and a forced full GC (the inspector's HeapProfiler.collectGarbage,
 * a memory-reducing GC). Measured on this machine with 1,000-connection storms one after another:
 * with such a GC before each, bare socket.io cost about 970 µs of CPU per connect in every storm;
 * without, 740 in the first and 300 to 340 from the fourth on. The cold figure is then mostly
 * compiling code again, which a server with more code pays more for.
 */
export type StormFigures = Record<'connects_per_s' | 'cpu_us_per_connect' | 'clients_cpu_us_per_connect', number> & { main_thread_us_per_connect?: number };

/** One measured storm of `n` on a running target, after a warm-up storm of `n` (closed again). */
export async function measuredStorm(pool: ClientPool, target: Target, group: string, n: number, concurrency: number): Promise<StormFigures> {
  const warm = await pool.connect(`${group}-warm`, target.kind, target.urls, ROOM, n, concurrency, 20_000);
  await pool.close(`${group}-warm`);
  if (warm.failed) throw new Error(`warm-up: ${warm.failed} of ${n} connections failed: ${warm.errors.join('; ')}`);
  await sleep(300);
  await quiesce(target.sample, 5000);
  // Only a single-process target has one main thread to read.
  const mainThread = async () => (target.pid === undefined ? NaN : mainThreadCpuUs(target.pid));
  const main0 = await mainThread();
  const s0 = await target.sample();
  const storm = await pool.connect(group, target.kind, target.urls, ROOM, n, concurrency, 20_000);
  const s1 = await target.sample();
  const main1 = await mainThread();
  if (storm.failed) throw new Error(`${storm.failed} of ${n} connections failed: ${storm.errors.join('; ')}`);
  return {
    connects_per_s: round(n / ((storm.endUs - storm.startUs) / 1e6), 0),
    cpu_us_per_connect: round((s1.cpuUs - s0.cpuUs) / n, 1),
    // A server's connects run on its main thread: its rate follows this part, not the total.
    ...(Number.isNaN(main0) ? {} : { main_thread_us_per_connect: round((main1 - main0) / n, 1) }),
    // The client processes share the machine's two cores with the server: the storm's rate follows
    // the server's CPU and theirs together.
    clients_cpu_us_per_connect: round(storm.cpuUs / n, 1),
  };
}

/**
 * Scenario 4: the warm connect storm at every memory size, servers alternating each repetition
 * (`connectReps` repetitions: five in a full run).
 * Beside bare socket.io (no auth), socket.io with one JWT middleware: bare socket.io verifies no
 * token, so the difference between the two is what authentication alone costs per connect.
 */
export async function connectScenario(ctx: Ctx): Promise<void> {
  const { plan, pool, results } = ctx;
  const kinds = serversOf(ctx);
  const entries: Entry[] = kinds.map((kind) => ({ label: kind, start: () => startTarget(kind, ctx.start) }));
  if (kinds.includes('socketio')) entries.splice(kinds.indexOf('socketio') + 1, 0, { label: SOCKETIO_JWT, start: () => startSocketioJwt(ctx.start) });
  for (const n of plan.memorySizes) {
    for (let r = 0; r < plan.connectReps; r++) {
      for (const { label, start } of rotate(entries, r)) {
        await guarded(ctx, `connect ${label} N=${n}`, async () => {
          ensureTime(ctx, 15_000, `connect ${label} N=${n}`);
          const target = await start();
          try {
            const m = await measuredStorm(pool, target, label, n, plan.connectConcurrency);
            results.add('connect', label, n, m);
            ctx.log(`    connect ${label} N=${n}: ${m.connects_per_s} connects/s, ${m.cpu_us_per_connect} µs CPU/connect`);
          } finally {
            await target.stop();
            await pool.close(label).catch(() => undefined);
          }
        });
      }
    }
  }
}
