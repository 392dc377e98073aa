import type { ClientPool } from '../clients/pool';
import type { Plan } from '../lib/plan';
import type { ProcSample, Sampler } from '../lib/proc-stats';
import type { Results } from '../lib/results';
import { nowUs, sleep } from '../lib/stats';
import type { StartOptions } from '../servers/targets';

/** What every scenario gets from the harness. */
export interface Ctx {
  plan: Plan;
  pool: ClientPool;
  results: Results;
  start: StartOptions;
  /** Epoch ms by which the whole run must be over. */
  deadline: number;
  log(line: string): void;
  nextPhase(): number;
}

export class OutOfTime extends Error {}

/** Throws OutOfTime when less than `needMs` remain of the global bound. */
export function ensureTime(ctx: Ctx, needMs: number, what: string): void {
  if (Date.now() + needMs > ctx.deadline) throw new OutOfTime(`global time bound reached before ${what}`);
}

/**
 * Waits until a server is quiet: CPU use below 5% of a core over 250 ms (e.g. after a join storm
 * whose room_state pushes are still being written), for at most `maxMs`.
 */
export async function quiesce(sample: Sampler, maxMs: number): Promise<ProcSample> {
  const end = Date.now() + maxMs;
  let prev = await sample();
  let prevUs = nowUs();
  for (;;) {
    await sleep(250);
    const cur = await sample();
    const wall = nowUs() - prevUs;
    if ((cur.cpuUs - prev.cpuUs) / wall < 0.05 || Date.now() > end) return cur;
    prev = cur;
    prevUs = nowUs();
  }
}

/** Waits until RSS stops moving (two samples 300 ms apart within 1%), for at most `maxMs`. */
export async function settledRss(sample: Sampler, maxMs: number): Promise<number> {
  const end = Date.now() + maxMs;
  let prev = (await sample()).rssBytes;
  for (;;) {
    await sleep(300);
    const cur = (await sample()).rssBytes;
    if (Math.abs(cur - prev) <= prev * 0.01 || Date.now() > end) return cur;
    prev = cur;
  }
}
