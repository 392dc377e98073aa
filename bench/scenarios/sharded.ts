import type { ConnectResult, JoinResult, PhaseStats, PublishResult } from '../clients/commands';
import type { Histogram } from '../lib/histogram';
import { checkPhaseEvents, mergePhaseStats } from '../clients/pool';
import { pool as inParallel } from '../lib/pool';
import { sumSamplers, type Sampler } from '../lib/proc-stats';
import { nowUs, round, sleep } from '../lib/stats';
import { startRedisCluster, type RedisCluster } from '../servers/redis-cluster';
import { BENCH_LIMITS, startGateway, type Target } from '../servers/targets';
import { ensureTime, quiesce, type Ctx } from './context';
import { guarded } from './fanout';

/**
 * Sharded scenario (issue 14; `--only=sharded`, not in --quick): "many small rooms" on a Redis
 * Cluster. A local 3-master Redis Cluster (bench/servers/redis-cluster.ts) and 1, 2, then 3 gateway
 * pods with REDIS_CLUSTER_NODES (the sharded adapter: each room a channel of its own, SPUBLISH /
 * SSUBSCRIBE on the master of its slot), a fresh cluster and fresh pods for each pod count.
 * `shardedRooms` rooms of `shardedRoomSize` clients; member m of room r connects to pod (r + m) % pods,
 * so the clients spread evenly over the pods and (from 2 pods on) every room has members on several
 * pods; member 0 publishes. Every room publishes chat messages at the same fixed rate,
 * `shardedRate` messages a second in all (the publishers' starts staggered evenly over one interval),
 * for `shardedSeconds`: the client pool's paced `publish` (its windowed flood shares one echo
 * counter per client process, so it cannot flow-control 100 publishers at once). Measured per pod
 * count: deliveries/s, pods' CPU per delivery (summed over the pods), Redis CPU per delivery (the
 * three redis-server processes summed, from /proc), p50/p99 latency (receive minus send stamp, every
 * delivery) and correctness: each client process's count of deliveries, read again after a settle
 * time, must equal exactly its rooms' members x messages (a missing or a duplicated or misrouted
 * delivery both show).
 */
export const shardedLabel = (pods: number): string => `gateway x${pods} (sharded)`;

/** Pause after the deliveries are in before reading the counts again (late duplicates show). */
const SETTLE_MS = 500;
/** Rooms connecting or joining at once (each room: one to three connect commands in turn). */
const ROOMS_IN_FLIGHT = 20;

interface Room {
  group: string;
  room: string;
  worker: number;
  members: number;
  /** Connect commands in order: the publisher's pod first, so member 0 is the group's connection 0. */
  parts: Array<{ url: string; from: number; count: number }>;
}

/** Runs `task` for every room, at most `limit` at once. */
const eachRoom = (rooms: Room[], limit: number, task: (room: Room) => Promise<void>) => inParallel(rooms.length, limit, (i) => task(rooms[i]));

function layout(ctx: Ctx, pods: number, urls: string[]): Room[] {
  const { shardedRooms, shardedRoomSize } = ctx.plan;
  const workers = ctx.pool.workers.length;
  return Array.from({ length: shardedRooms }, (_, r) => {
    const counts = urls.map(() => 0);
    for (let m = 0; m < shardedRoomSize; m++) counts[(r + m) % pods]++;
    const parts: Room['parts'] = [];
    let from = r * shardedRoomSize;
    for (let k = 0; k < pods; k++) {
      const p = (r + k) % pods;
      if (!counts[p]) continue;
      parts.push({ url: urls[p], from, count: counts[p] });
      from += counts[p];
    }
    return { group: `sharded-x${pods}-r${r}`, room: `sharded-room-${r}`, worker: r % workers, members: shardedRoomSize, parts };
  });
}

export async function shardedScenario(ctx: Ctx): Promise<void> {
  for (const pods of ctx.plan.shardedPods) {
    await guarded(ctx, `sharded ${shardedLabel(pods)}`, () => podCount(ctx, pods));
  }
}

async function podCount(ctx: Ctx, pods: number): Promise<void> {
  const { plan, pool } = ctx;
  const label = shardedLabel(pods);
  ensureTime(ctx, 20_000 + plan.reps * (plan.shardedSeconds * 1000 + 3000), `sharded ${label}`);
  const redis = await startRedisCluster(3);
  const gateways: Target[] = [];
  let rooms: Room[] = [];
  try {
    for (let i = 0; i < pods; i++) {
      gateways.push(await startGateway({ ...ctx.start, gatewayEnv: { ...BENCH_LIMITS, REDIS_CLUSTER_NODES: redis.seeds, POD_ID: `sharded-pod${i}` } }));
    }
    const podsSample = sumSamplers(gateways.map((g) => g.sample));
    rooms = layout(ctx, pods, gateways.map((g) => g.urls[0]));
    const joinS = await setUp(ctx, rooms, podsSample);
    ctx.log(`  ${label}: ${rooms.length} rooms of ${plan.shardedRoomSize} (${rooms.length * plan.shardedRoomSize} clients) on ${pods} pod(s) and a 3-master Redis Cluster (${redis.seeds}), joined and idle after ${round(joinS, 2)} s`);

    const perRoomRate = plan.shardedRate / rooms.length;
    // Warm-up (JIT, connection pools, the first SSUBSCRIBEs), not recorded but checked.
    await phase(ctx, rooms, redis, podsSample, Math.max(2, Math.round(perRoomRate)), perRoomRate);
    for (let r = 0; r < plan.reps; r++) {
      ensureTime(ctx, plan.shardedSeconds * 1000 + 10_000, `sharded ${label}`);
      const m = await phase(ctx, rooms, redis, podsSample, Math.max(1, Math.round(perRoomRate * plan.shardedSeconds)), perRoomRate);
      record(ctx, label, m, r === 0 ? joinS : undefined);
    }
  } finally {
    // Pods first, so they push no leave events to clients that close; then Redis, then the clients.
    await Promise.all(gateways.map((g) => g.stop()));
    await redis.stop();
    await eachRoom(rooms, 50, (rm) => pool.request(rm.worker, { cmd: 'close', group: rm.group }, 10_000).then(() => undefined, () => undefined));
  }
}

/** Connects every room's members (pod by pod, publisher first), joins them, waits until the pods are idle; seconds from the first join to idle. */
async function setUp(ctx: Ctx, rooms: Room[], podsSample: Sampler): Promise<number> {
  const { pool } = ctx;
  const errors = new Set<string>();
  let failed = 0;
  await eachRoom(rooms, ROOMS_IN_FLIGHT, async (rm) => {
    for (const part of rm.parts) {
      const res = await pool.request<ConnectResult>(rm.worker, { cmd: 'connect', group: rm.group, kind: 'gateway', url: part.url, room: rm.room, from: part.from, count: part.count, concurrency: part.count, timeoutMs: 20_000 }, 30_000);
      failed += res.failed;
      for (const e of res.errors) if (errors.size < 3) errors.add(e);
    }
  });
  if (failed) throw new Error(`${failed} connections failed: ${[...errors].join('; ')}`);
  const joinStart = nowUs();
  const joinBound = Math.max(5000, Math.min(60_000, ctx.deadline - Date.now() - 5000));
  await eachRoom(rooms, ROOMS_IN_FLIGHT, async (rm) => {
    const res = await pool.request<JoinResult>(rm.worker, { cmd: 'join', group: rm.group, room: rm.room, concurrency: rm.members, timeoutMs: joinBound }, joinBound);
    failed += res.failed;
    for (const e of res.errors) if (errors.size < 3) errors.add(e);
  });
  if (failed) throw new Error(`${failed} joins failed: ${[...errors].join('; ')}`);
  await quiesce(podsSample, 30_000);
  return (nowUs() - joinStart) / 1e6;
}

interface Measured {
  hist: Histogram;
  expected: number;
  /** Deliveries counted once the settle time has passed. */
  final: number;
  sent: number;
  spanS: number;
  wallUs: number;
  podsCpuUs: number;
  redisCpuUs: number;
  clientUtilMax: number;
}

/** One phase: every room's publisher sends `perRoom` messages at `perRoomRate` a second; every delivery counted. */
async function phase(ctx: Ctx, rooms: Room[], redis: RedisCluster, podsSample: Sampler, perRoom: number, perRoomRate: number): Promise<Measured> {
  const { pool, plan } = ctx;
  const workers = pool.workers.map((_, i) => i);
  const byWorker = workers.map((w) => rooms.filter((rm) => rm.worker === w));
  const expectedOf = (w: number) => byWorker[w].reduce((a, rm) => a + rm.members * perRoom, 0);
  const timeoutMs = (perRoom / perRoomRate) * 1000 + 20_000;
  const ph = ctx.nextPhase();
  await pool.all(() => ({ cmd: 'begin', phase: ph }));
  const [pods0, redis0] = await Promise.all([podsSample(), redis.sample()]);
  const t0 = nowUs();
  const waits = Promise.all(workers.map((w) => pool.request<PhaseStats>(w, { cmd: 'await', group: byWorker[w][0]?.group ?? '', expected: expectedOf(w), timeoutMs }, timeoutMs)));
  // The rooms' first messages spread evenly over one interval of the total rate.
  const gapMs = 1000 / plan.shardedRate;
  const pubs = await Promise.all(
    rooms.map((rm, i) =>
      sleep(i * gapMs).then(() =>
        pool.request<PublishResult>(rm.worker, { cmd: 'publish', group: rm.group, phase: ph, room: rm.room, count: perRoom, rate: perRoomRate, window: 0, bytes: plan.payloadBytes, timeoutMs }, timeoutMs),
      ),
    ),
  );
  const failedPub = pubs.find((p) => p.error);
  if (failedPub) await pool.all(() => ({ cmd: 'abort' }));
  const stats = await waits;
  const [pods1, redis1] = await Promise.all([podsSample(), redis.sample()]);
  const wallUs = nowUs() - t0;
  if (failedPub) throw new Error(`publish failed: ${failedPub.error}`);
  await sleep(SETTLE_MS);
  const again = await Promise.all(workers.map((w) => pool.request<PhaseStats>(w, { cmd: 'await', group: byWorker[w][0]?.group ?? '', expected: 0, timeoutMs: 1000 }, 1000)));
  const phase = mergePhaseStats(stats);
  const later = mergePhaseStats(again);
  checkPhaseEvents(later.events, 'sharded', (m) => ctx.results.warn(m));
  const sent = pubs.reduce((a, p) => a + p.sent, 0);
  const startUs = Math.min(...pubs.map((p) => p.startUs));
  return {
    hist: phase.hist,
    expected: workers.reduce((a, w) => a + expectedOf(w), 0),
    final: later.received,
    sent,
    spanS: (phase.lastUs - startUs) / 1e6,
    wallUs,
    podsCpuUs: pods1.cpuUs - pods0.cpuUs,
    redisCpuUs: redis1.cpuUs - redis0.cpuUs,
    clientUtilMax: phase.clientUtilMax,
  };
}

function record(ctx: Ctx, label: string, m: Measured, joinS?: number): void {
  const { plan, results } = ctx;
  const n = plan.shardedRoomSize;
  const delivered = Math.min(m.final, m.expected);
  const missing = Math.max(0, m.expected - m.final);
  const extra = Math.max(0, m.final - m.expected);
  const metrics: Record<string, number> = {
    deliveries_per_s: round(delivered / m.spanS, 0),
    cpu_us_per_delivery: round(m.podsCpuUs / delivered, 2),
    redis_cpu_us_per_delivery: round(m.redisCpuUs / delivered, 2),
    cpu_us_per_message: round(m.podsCpuUs / m.sent, 1),
    p50_ms: round(m.hist.quantile(0.5) / 1000, 2),
    p99_ms: round(m.hist.quantile(0.99) / 1000, 2),
    max_ms: round(m.hist.maxUs / 1000, 2),
    server_cpu_util: round(m.podsCpuUs / m.wallUs, 2),
    redis_cpu_util: round(m.redisCpuUs / m.wallUs, 2),
    client_cpu_util_max: round(m.clientUtilMax, 2),
    deliveries_missing: missing,
    deliveries_extra: extra,
  };
  if (joinS !== undefined) metrics.join_s = round(joinS, 2);
  results.add('sharded', label, n, metrics);
  ctx.log(
    `    sharded ${label}: ${m.sent} messages, ${m.final} of ${m.expected} deliveries (${missing} missing, ${extra} extra), ${metrics.deliveries_per_s} deliveries/s, ` +
      `pods ${metrics.cpu_us_per_delivery} µs CPU/delivery (${metrics.server_cpu_util} cores), redis ${metrics.redis_cpu_us_per_delivery} µs CPU/delivery (${metrics.redis_cpu_util} cores), ` +
      `p50 ${metrics.p50_ms} ms, p99 ${metrics.p99_ms} ms, max ${metrics.max_ms} ms, busiest client ${metrics.client_cpu_util_max}`,
  );
  if (missing || extra) results.fail(`sharded ${label}: ${missing} deliveries missing and ${extra} extra (duplicated or misrouted) of ${m.expected}`);
  const offered = plan.shardedRate * n;
  if (metrics.deliveries_per_s < offered * 0.9) {
    results.warn(`sharded ${label}: ${metrics.deliveries_per_s} deliveries/s of the ${offered} offered: the machine did not keep up with the fixed rate, latency includes queueing`);
  }
  if (m.clientUtilMax > 0.9) results.warn(`sharded ${label}: a client process used ${Math.round(m.clientUtilMax * 100)}% of a core: the clients may be the bottleneck`);
}
