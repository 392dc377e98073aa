import type { Plan } from '../lib/plan';
import type { Results } from '../lib/results';
import { ratio } from '../lib/stats';
import { CLUSTER, NATIVE, SINGLE, SIO_PATH } from '../scenarios/fanout';
import { FLOOD_GATEWAY, FLOOD_SOCKETIO } from '../scenarios/flood';
import { AI_RELAY, aiGatewayLabel } from '../scenarios/ai';
import { UPLOAD_FS, UPLOAD_GATEWAY, UPLOAD_PIPE } from '../scenarios/upload';
import { shardedLabel } from '../scenarios/sharded';
import { SOCKETIO_JWT } from '../servers/targets';
import { STREAM_ROOMS, STREAM_SUBS } from '../scenarios/streams';

/**
 * The ratios of the issue's targets, each from medians of the same run. Where the target is a
 * throughput, `*_vs_*` without suffix is the figure the target names and a `_cpu` twin gives the
 * same comparison from server CPU time per unit of work (baseline µs ÷ gateway µs, so both read
 * "higher is better"), the steadier figure on a shared machine. Fan-out prefers CPU, as the issue
 * asks: `fanout_vs_socketio` is the CPU ratio and `fanout_rate_vs_socketio` the deliveries/s ratio.
 */
export type Verdict = 'met' | 'missed' | 'not measured';

export interface Summary {
  [key: string]: unknown;
  fanout_vs_socketio: number | null;
  fanout_vs_ws: number | null;
  mem_per_conn_vs_socketio: number | null;
  connect_rate_vs_socketio: number | null;
  cluster_vs_single: number | null;
  targets: Record<string, { verdict: Verdict; value: number | null; target: string }>;
}

const worst = (values: Array<number | null>, pick: (a: number, b: number) => number): number | null => {
  const v = values.filter((x): x is number => x !== null);
  return v.length ? v.reduce(pick) : null;
};

export function summarize(results: Results, plan: Plan): Summary {
  const med = (s: string, server: string, n: number, m: string) => results.get(s, server, n, m)?.median;
  const bigRooms = plan.fanoutSizes.filter((n) => n >= 1000);
  const fanCpu = (base: string, n: number) => ratio(med('fanout', base, n, 'cpu_us_per_delivery'), med('fanout', 'gateway', n, 'cpu_us_per_delivery'));
  const fanRate = (base: string, n: number) => ratio(med('fanout', 'gateway', n, 'deliveries_per_s'), med('fanout', base, n, 'deliveries_per_s'));
  const byN = (f: (base: string, n: number) => number | null, base: string) =>
    Object.fromEntries(plan.fanoutSizes.map((n) => [n, f(base, n)]));

  const memRatios = plan.memorySizes.map((n) => ratio(med('memory', 'gateway', n, 'rss_per_conn_kb'), med('memory', 'socketio', n, 'rss_per_conn_kb')));
  const connRatios = plan.memorySizes.map((n) => ratio(med('connect', 'gateway', n, 'connects_per_s'), med('connect', 'socketio', n, 'connects_per_s')));
  const connCpu = plan.memorySizes.map((n) => ratio(med('connect', 'socketio', n, 'cpu_us_per_connect'), med('connect', 'gateway', n, 'cpu_us_per_connect')));
  const jwtRatios = plan.memorySizes.map((n) => ratio(med('connect', 'gateway', n, 'connects_per_s'), med('connect', SOCKETIO_JWT, n, 'connects_per_s')));
  const coldRatios = plan.memorySizes.map((n) => ratio(med('connect_cold', 'gateway', n, 'connects_per_s'), med('connect_cold', 'socketio', n, 'connects_per_s')));
  const cn = plan.clusterSize;
  const sn = plan.steadySize;
  const fn = plan.floodUsers;
  const an = plan.aiStreams;
  const hn = plan.shardedRoomSize;
  const byPods = (m: string) => Object.fromEntries(plan.shardedPods.map((p) => [p, med('sharded', shardedLabel(p), hn, m) ?? null]));

  const s = {
    fanout_vs_socketio: worst(bigRooms.map((n) => fanCpu('socketio', n)), (a, b) => Math.min(a, b)),
    fanout_rate_vs_socketio: worst(bigRooms.map((n) => fanRate('socketio', n)), (a, b) => Math.min(a, b)),
    fanout_vs_ws: worst(bigRooms.map((n) => fanCpu('ws', n)), (a, b) => Math.min(a, b)),
    fanout_rate_vs_ws: worst(bigRooms.map((n) => fanRate('ws', n)), (a, b) => Math.min(a, b)),
    fanout_cpu_vs_socketio_by_n: byN(fanCpu, 'socketio'),
    fanout_cpu_vs_ws_by_n: byN(fanCpu, 'ws'),
    // One message in flight at a time (nothing to coalesce), at the steady size: socket.io's CPU per delivery / the gateway's.
    fanout_single_cpu_vs_socketio: ratio(med('fanout_single', 'socketio', sn, 'cpu_us_per_delivery'), med('fanout_single', 'gateway', sn, 'cpu_us_per_delivery')),
    fanout_rate_vs_socketio_by_n: byN(fanRate, 'socketio'),
    mem_per_conn_vs_socketio: worst(memRatios, (a, b) => Math.max(a, b)),
    connect_rate_vs_socketio: worst(connRatios, (a, b) => Math.min(a, b)),
    connect_cpu_vs_socketio: worst(connCpu, (a, b) => Math.min(a, b)),
    // Against socket.io with one JWT middleware (bare socket.io authenticates nobody; no target).
    connect_rate_vs_socketio_jwt: worst(jwtRatios, (a, b) => Math.min(a, b)),
    // The memory scenario's storm, the first after a forced full GC (cold code; no target).
    connect_cold_rate_vs_socketio: worst(coldRatios, (a, b) => Math.min(a, b)),
    cluster_vs_single: ratio(med('cluster', CLUSTER, cn, 'deliveries_per_s'), med('cluster', SINGLE, cn, 'deliveries_per_s')),
    cluster_cpu_vs_single: ratio(med('cluster', SINGLE, cn, 'cpu_us_per_delivery'), med('cluster', CLUSTER, cn, 'cpu_us_per_delivery')),
    cluster_p99_vs_single: ratio(med('cluster_steady', CLUSTER, cn, 'p99_ms'), med('cluster_steady', SINGLE, cn, 'p99_ms')),
    cell_ack_p99_vs_socketio: ratio(med('cells', SINGLE, plan.cellRoomSize, 'ack_p99_ms'), med('cells', 'socketio', plan.cellRoomSize, 'ack_p99_ms')),
    cell_ack_p99_cluster_vs_socketio: ratio(med('cells', CLUSTER, plan.cellRoomSize, 'ack_p99_ms'), med('cells', 'socketio', plan.cellRoomSize, 'ack_p99_ms')),
    native_vs_socketio_path: ratio(med('native', SIO_PATH, plan.nativeSize, 'cpu_us_per_delivery'), med('native', NATIVE, plan.nativeSize, 'cpu_us_per_delivery')),
    native_rate_vs_socketio_path: ratio(med('native', NATIVE, plan.nativeSize, 'deliveries_per_s'), med('native', SIO_PATH, plan.nativeSize, 'deliveries_per_s')),
    steady_p99_vs_socketio: ratio(med('steady', 'gateway', sn, 'p99_ms'), med('steady', 'socketio', sn, 'p99_ms')),
    // Well-behaved users' ack p99 with an abuser flooding / without (gateway with its default limits),
    // each p99 over every repetition's acks; the same on bare socket.io, which has no limits, for
    // comparison (no target).
    flood_p99_ratio: ratio(med('flood', FLOOD_GATEWAY, fn, 'flood_p99_all_ms'), med('flood', FLOOD_GATEWAY, fn, 'calm_p99_all_ms')),
    flood_p99_ratio_socketio: ratio(med('flood', FLOOD_SOCKETIO, fn, 'flood_p99_all_ms'), med('flood', FLOOD_SOCKETIO, fn, 'calm_p99_all_ms')),
    // AI streaming (issue 9): added latency per token (client receipt - upstream write, which with
    // AI_PROGRESS_INTERVAL_MS=50 includes up to 50 ms of coalescing: the p99 target is on the 0
    // run), and server CPU per token delivered, gateway / plain SSE relay (lower is better).
    ai_added_p99_ms_interval0: med('ai', aiGatewayLabel(0), an, 'p99_ms') ?? null,
    ai_added_p99_ms_interval50: med('ai', aiGatewayLabel(50), an, 'p99_ms') ?? null,
    ai_added_p99_ms_relay: med('ai', AI_RELAY, an, 'p99_ms') ?? null,
    ai_cpu_per_token_vs_relay: ratio(med('ai', aiGatewayLabel(50), an, 'cpu_us_per_token'), med('ai', AI_RELAY, an, 'cpu_us_per_token')),
    ai_cpu_per_token_vs_relay_interval0: ratio(med('ai', aiGatewayLabel(0), an, 'cpu_us_per_token'), med('ai', AI_RELAY, an, 'cpu_us_per_token')),
    // Tokens not delivered in the worst repetition of any path (every path must deliver them all).
    ai_tokens_missing: worst([AI_RELAY, ...plan.aiIntervals.map(aiGatewayLabel)].map((l) => results.get('ai', l, an, 'tokens_missing')?.max ?? null), (a, b) => Math.max(a, b)),
    // Uploads (issue 11): MB/s through the tus endpoint / a plain fs.createWriteStream of the same
    // bytes, and the pod's peak RSS growth during the upload (the worst repetition). No target: a
    // bare node:http server piping the same PATCH into a file / the plain write (the ceiling of any
    // HTTP upload on the machine), and the tus endpoint / that bare pipe (the tus handling's cost).
    // All medians of the same run; the pair ratios' ranges are in the uploads table.
    upload_throughput_vs_fs: ratio(med('upload', UPLOAD_GATEWAY, plan.uploadMb, 'mb_per_s'), med('upload', UPLOAD_FS, plan.uploadMb, 'mb_per_s')),
    upload_http_pipe_vs_fs: ratio(med('upload', UPLOAD_PIPE, plan.uploadMb, 'mb_per_s'), med('upload', UPLOAD_FS, plan.uploadMb, 'mb_per_s')),
    upload_throughput_vs_http_pipe: ratio(med('upload', UPLOAD_GATEWAY, plan.uploadMb, 'mb_per_s'), med('upload', UPLOAD_PIPE, plan.uploadMb, 'mb_per_s')),
    upload_rss_growth_mb: results.get('upload', UPLOAD_GATEWAY, plan.uploadMb, 'rss_growth_mb')?.max ?? null,
    // Sharded (issue 14, no target): many small rooms on pods of a 3-master Redis Cluster, by pod
    // count. Pods' CPU per delivery (summed over the pods) and the three redis-servers', medians;
    // on a 2-core machine the pods share the cores, so these, not deliveries/s, extrapolate (cores
    // needed = deliveries/s x µs per delivery). Correctness: deliveries missing and extra (duplicated
    // or misrouted), the worst repetition over every pod count (both must be 0).
    sharded_cpu_per_delivery_by_pods: byPods('cpu_us_per_delivery'),
    sharded_redis_cpu_per_delivery_by_pods: byPods('redis_cpu_us_per_delivery'),
    sharded_p99_ms_by_pods: byPods('p99_ms'),
    sharded_deliveries_missing: worst(plan.shardedPods.map((p) => results.get('sharded', shardedLabel(p), hn, 'deliveries_missing')?.max ?? null), (a, b) => Math.max(a, b)),
    sharded_deliveries_extra: worst(plan.shardedPods.map((p) => results.get('sharded', shardedLabel(p), hn, 'deliveries_extra')?.max ?? null), (a, b) => Math.max(a, b)),
    // Streams (issue 10): server CPU per delivered item of filtered stream subscriptions / of the
    // same clients in one room receiving every item by REST room broadcast, the same deliveries a
    // second unless --stream-room-rate (lower is better), and
    // the worst repetition's missing and extra (or misrouted) deliveries of either path.
    stream_cpu_per_item_vs_room: ratio(med('streams', STREAM_SUBS, plan.streamClients, 'cpu_us_per_delivery'), med('streams', STREAM_ROOMS, plan.streamClients, 'cpu_us_per_delivery')),
    // The same ratio with each POST's cost (a room broadcast POST reaching nobody, measured once) taken
    // out: the room path pays one request per item, the stream path one per batch (no target).
    stream_cpu_per_item_vs_room_net: ratio(med('streams', STREAM_SUBS, plan.streamClients, 'cpu_us_per_delivery_net'), med('streams', STREAM_ROOMS, plan.streamClients, 'cpu_us_per_delivery_net')),
    streams_deliveries_missing: worst([STREAM_SUBS, STREAM_ROOMS].map((l) => results.get('streams', l, plan.streamClients, 'deliveries_missing')?.max ?? null), (a, b) => Math.max(a, b)),
    streams_deliveries_extra: worst([STREAM_SUBS, STREAM_ROOMS].map((l) => results.get('streams', l, plan.streamClients, 'deliveries_extra')?.max ?? null), (a, b) => Math.max(a, b)),
  };
  // A room size where the baseline has a figure and the gateway none (e.g. its room could not be
  // formed within the join bound) fails the fan-out targets instead of silently dropping out.
  const unmeasured = bigRooms.filter((n) => med('fanout', 'socketio', n, 'cpu_us_per_delivery') !== undefined && med('fanout', 'gateway', n, 'cpu_us_per_delivery') === undefined);
  const atLeast = (v: number | null, t: number) => ({ verdict: (v === null ? 'not measured' : v >= t ? 'met' : 'missed') as Verdict, value: v, target: `>= ${t}` });
  const atMost = (v: number | null, t: number) => ({ verdict: (v === null ? 'not measured' : v <= t ? 'met' : 'missed') as Verdict, value: v, target: `<= ${t}` });
  const below = (v: number | null, t: number) => ({ verdict: (v === null ? 'not measured' : v < t ? 'met' : 'missed') as Verdict, value: v, target: `< ${t}` });
  return {
    ...s,
    fanout_gateway_unmeasured_sizes: unmeasured,
    targets: {
      fanout_cpu_vs_socketio: unmeasuredFails(atLeast(s.fanout_vs_socketio, 0.9), unmeasured),
      fanout_rate_vs_socketio: unmeasuredFails(atLeast(s.fanout_rate_vs_socketio, 0.9), unmeasured),
      mem_per_conn_vs_socketio: atMost(s.mem_per_conn_vs_socketio, 1.25),
      connect_rate_vs_socketio: atLeast(s.connect_rate_vs_socketio, 0.8),
      cluster_vs_single: atLeast(s.cluster_vs_single, 0.8),
      cluster_p99_vs_single: atMost(s.cluster_p99_vs_single, 1.3),
      steady_p99_vs_socketio: atMost(s.steady_p99_vs_socketio, 1.2),
      flood_p99_ratio: atMost(s.flood_p99_ratio, 1.5),
      ai_added_p99_ms_interval0: below(s.ai_added_p99_ms_interval0, 20),
      ai_cpu_per_token_vs_relay: atMost(s.ai_cpu_per_token_vs_relay, 2),
      ai_cpu_per_token_vs_relay_interval0: atMost(s.ai_cpu_per_token_vs_relay_interval0, 2),
      ai_tokens_missing: atMost(s.ai_tokens_missing, 0),
      // Issue 14 (FAST_BROADCAST): server CPU per delivery, bare socket.io's / the gateway's.
      fanout_cpu_vs_socketio_n1000: atLeast((s.fanout_cpu_vs_socketio_by_n as Record<number, number | null>)[1000] ?? null, 3),
      fanout_cpu_vs_socketio_n5000: atLeast((s.fanout_cpu_vs_socketio_by_n as Record<number, number | null>)[5000] ?? null, 2.5),
      fanout_single_cpu_vs_socketio: atLeast(s.fanout_single_cpu_vs_socketio, 1.5),
      fanout_cpu_vs_ws: atLeast(s.fanout_vs_ws, 1),
      native_vs_socketio_path: atLeast(s.native_vs_socketio_path, 0.9),
      connect_rate_vs_socketio_issue14: atLeast(s.connect_rate_vs_socketio, 0.95),
      upload_throughput_vs_fs: atLeast(s.upload_throughput_vs_fs, 0.7),
      upload_rss_growth_mb: below(s.upload_rss_growth_mb, 50),
      // Issue 10: a filtered stream delivery may cost at most 1.5x a room broadcast delivery.
      stream_cpu_per_item_vs_room: atMost(s.stream_cpu_per_item_vs_room, 1.5),
    },
  };
}

function unmeasuredFails(t: { verdict: Verdict; value: number | null; target: string }, sizes: number[]) {
  return sizes.length ? { ...t, verdict: 'missed' as Verdict, target: `${t.target} (gateway not measurable at N=${sizes.join(', ')})` } : t;
}
