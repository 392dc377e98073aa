import type { ServerKind } from '../clients/protocol';
import { startCluster, startGateway, startTarget } from '../servers/targets';
import { OutOfTime, type Ctx } from './context';
import { roomsBench, type Entry } from './room';

export const SERVERS: ServerKind[] = ['ws', 'socketio', 'gateway'];
export const SINGLE = 'gateway x1';
export const CLUSTER = 'gateway x2 (redis)';

/** Failures are recorded and the run goes on; running out of time ends it. */
export async function guarded(ctx: Ctx, what: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (err instanceof OutOfTime) throw err;
    ctx.results.fail(`${what}: ${(err as Error).message}`);
    ctx.log(`  ${what} FAILED: ${(err as Error).message}`);
  }
}

export const serversOf = (ctx: Ctx): ServerKind[] => SERVERS.filter((k) => !ctx.plan.servers || ctx.plan.servers.has(k));
const entries = (ctx: Ctx): Entry[] => serversOf(ctx).map((kind) => ({ label: kind, start: () => startTarget(kind, ctx.start) }));

/** Scenarios 1 and 2: fan-out at every room size, and the steady rate at `steadySize`. */
export async function fanoutScenario(ctx: Ctx, withSteady: boolean): Promise<void> {
  for (const n of ctx.plan.fanoutSizes) {
    const steady = withSteady && n === ctx.plan.steadySize ? 'steady' : undefined;
    // At the steady size, also one message in flight at a time: what a broadcast costs with nothing to coalesce.
    const single = n === ctx.plan.steadySize ? 'fanout_single' : undefined;
    await guarded(ctx, `fanout N=${n}`, () => roomsBench(ctx, entries(ctx), n, { fanoutScenario: 'fanout', steadyScenario: steady, singleScenario: single }));
  }
}

/** Scenario 2 alone (when fan-out does not run at the steady size). */
export async function steadyScenario(ctx: Ctx): Promise<void> {
  await guarded(ctx, 'steady', () => roomsBench(ctx, entries(ctx), ctx.plan.steadySize, { steadyScenario: 'steady' }));
}

/** Scenario 5: two pods on a harness-started redis-server, clients split, against one pod as it ships. */
export async function clusterScenario(ctx: Ctx): Promise<void> {
  const pods: Entry[] = [
    { label: SINGLE, start: () => startGateway(ctx.start) },
    { label: CLUSTER, start: () => startCluster(ctx.start, ctx.plan.clusterPods) },
  ];
  await guarded(ctx, 'cluster', () => roomsBench(ctx, pods, ctx.plan.clusterSize, { fanoutScenario: 'cluster', steadyScenario: 'cluster_steady' }));
}

export const SIO_PATH = 'gateway, Socket.IO clients';
export const NATIVE = 'gateway, native /api/v1/ws clients';

/** Scenario 6 (shim): the same fan-out to native seed 002 clients, against Socket.IO clients. */
export async function nativeScenario(ctx: Ctx): Promise<void> {
  const both: Entry[] = [
    { label: SIO_PATH, start: () => startGateway(ctx.start) },
    { label: NATIVE, start: () => startGateway(ctx.start), native: true },
  ];
  await guarded(ctx, 'native', () => roomsBench(ctx, both, ctx.plan.nativeSize, { fanoutScenario: 'native' }));
}
