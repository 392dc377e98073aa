import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import type { PhaseStats, StreamsConnectResult, StreamsCountsResult } from '../clients/commands';
import { content } from '../clients/protocol';
import { VALUE_SPAN } from '../clients/streams';
import type { Histogram } from '../lib/histogram';
import { checkPhaseEvents, mergePhaseStats } from '../clients/pool';
import { shareAmong, type Share } from '../lib/pool';
import { nowUs, round, sleep } from '../lib/stats';
import { BENCH_LIMITS, startGateway, type Target } from '../servers/targets';
import { ensureTime, quiesce, type Ctx } from './context';
import { guarded } from './fanout';

/**
 * Streams scenario (issue 10; `--only=streams`, not in --quick): filtered stream subscriptions
 * against the issue's baseline, the same subscribers in one room receiving every item unfiltered.
 * Two gateway pods as they ship (one process each, no Redis, BENCH_LIMITS plus ADMIN_API_KEY),
 * started together and measured in turn within each repetition:
 * - stream subscriptions: `streamClients` Socket.IO clients on `/streams`, client k with one
 *   `subscribe {type: 'events', filters: {'payload.shard': k % streamValues}}`; the publisher
 *   POSTs `/api/v1/streams/events` (X-API-Key) batches of `streamBatch` items at `streamRate` items
 *   a second, item i with `payload.shard = i % streamValues`, so each item matches 1/streamValues of
 *   the subscriptions;
 * - room broadcast: the same number of clients on `/`, all in room `bench-streams-0` (`join_room`),
 *   and each item one `POST /api/v1/ws/rooms/{room}/broadcast` (the REST API has no batched
 *   broadcast) reaching every client, at `streamRoomRate` items a second, evenly spaced. By default
 *   that is streamRate / streamValues, so both paths offer the same deliveries a second (the
 *   literal 1,000 items/s to 1,000 members, 1,000,000 deliveries/s, is `--stream-room-rate=1000`).
 * Each for `streamSeconds`. Each item carries a monotonic send stamp (taken when its request body is
 * built) and the value it is meant for (its filter value; 0 on the room path, where every client
 * has value 0); a client counts the deliveries of its own value and, apart, any of another value.
 * Measured: deliveries/s, server CPU (/proc) per delivery and per item published, p50/p99 latency
 * (receive minus stamp, every delivery), and correctness: 0.5 s after the last delivery every
 * client's count must equal the items meant for it exactly (every item, on the room path), none of
 * another value. The wait for the deliveries is bounded (`phaseBoundMs`), and the server drains
 * (bounded) before the next phase.
 */
export const STREAM_SUBS = 'gateway, stream subscriptions';
export const STREAM_ROOMS = 'gateway, one-room broadcast';

const STREAM_TYPE = 'events';
const FILTER_PATH = 'payload.shard';
const ROOM_PREFIX = 'bench-streams-';
const EVENT = 'bench_item';
const SETTLE_MS = 500;
const DRAIN_MS = 30_000;

type PathKind = 'stream' | 'room';

interface Side {
  kind: PathKind;
  label: string;
  target: Target;
  group: string;
  /** Items a second, items per POST, and filter values (1 on the room path: every client gets every item). */
  rate: number;
  batch: number;
  values: number;
  /** Clients per worker. */
  shares: Share[];
}

export async function streamsScenario(ctx: Ctx): Promise<void> {
  const { plan } = ctx;
  ensureTime(ctx, 30_000 + (plan.reps + 0.5) * 2 * (plan.streamSeconds * 1000 + 3000), 'streams');
  const apiKey = randomBytes(24).toString('hex');
  const env = { ...BENCH_LIMITS, ADMIN_API_KEY: apiKey };
  const sides: Side[] = [];
  const itemsOf = (side: Side) => Math.round(side.rate * plan.streamSeconds);
  try {
    for (const kind of ['stream', 'room'] as const) {
      const stream = kind === 'stream';
      sides.push({
        kind,
        label: stream ? STREAM_SUBS : STREAM_ROOMS,
        target: await startGateway({ ...ctx.start, gatewayEnv: env }),
        group: `streams-${kind}`,
        rate: stream ? plan.streamRate : plan.streamRoomRate,
        batch: stream ? plan.streamBatch : 1,
        values: stream ? plan.streamValues : 1,
        shares: shareAmong(plan.streamClients, ctx.pool.workers.length),
      });
    }
    const setupS: number[] = [];
    for (const side of sides) setupS.push(await setUp(ctx, side));
    ctx.log(
      `  ${plan.streamClients} clients per path; streams: ${plan.streamValues} filter values (${plan.streamClients / plan.streamValues} clients each), ${plan.streamRate} items/s; ` +
        `room: one room of ${plan.streamClients}, ${round(plan.streamRoomRate, 1)} items/s; ready after ${setupS.map((s) => round(s, 2)).join(' s / ')} s`,
    );
    // Warm-up of each path (JIT, HTTP keep-alive sockets), ~1 s, checked but not recorded.
    for (const side of sides) {
      const w = await phase(ctx, side, apiKey, Math.max(side.batch, Math.round(side.rate)));
      if (w.missing || w.extra || w.wrong) ctx.results.warn(`streams ${side.label}: warm-up: ${w.missing} deliveries missing, ${w.extra} extra, ${w.wrong} of another value`);
    }
    const requestCpuUs = await calibrate(ctx, sides[1], apiKey);
    ctx.log(`  one room broadcast POST to an empty room: ${round(requestCpuUs, 1)} µs server CPU (subtracted per request for the "net" figures)`);
    for (let r = 0; r < plan.reps; r++) {
      // The order alternates, so neither path always runs second.
      for (const side of r % 2 ? [...sides].reverse() : sides) {
        ensureTime(ctx, phaseBoundMs(ctx, side, itemsOf(side)) + DRAIN_MS, 'streams');
        await guarded(ctx, `streams ${side.label}`, async () => {
          const m = await phase(ctx, side, apiKey, itemsOf(side));
          record(ctx, side, m, requestCpuUs, r === 0 ? setupS[sides.indexOf(side)] : undefined);
        });
      }
    }
  } finally {
    await Promise.all(sides.map((s) => s.target.stop()));
    await Promise.all(sides.map((s) => ctx.pool.all(() => ({ cmd: 'close', group: s.group }), 10_000).catch(() => undefined)));
  }
}

/** Connects and subscribes (or joins) every client of a path; seconds from the first connect until the server is idle. */
async function setUp(ctx: Ctx, side: Side): Promise<number> {
  const { pool } = ctx;
  const t0 = nowUs();
  const res = await Promise.all(
    side.shares.map(({ from, count }, w) =>
      pool.request<StreamsConnectResult>(
        w,
        { cmd: 'streams_connect', group: side.group, mode: side.kind, url: side.target.urls[0], from, count, values: side.values, streamType: STREAM_TYPE, filterPath: FILTER_PATH, roomPrefix: ROOM_PREFIX, event: EVENT, concurrency: 50, timeoutMs: 20_000 },
        60_000,
      ),
    ),
  );
  const failed = res.reduce((a, r) => a + r.failed, 0);
  if (failed) throw new Error(`${side.label}: ${failed} clients not ready: ${[...new Set(res.flatMap((r) => r.errors))].slice(0, 3).join('; ')}`);
  await quiesce(side.target.sample, 20_000);
  return (nowUs() - t0) / 1e6;
}

interface PublishOutcome {
  sent: number;
  requests: number;
  /** What the server answered: streams `delivered`, rooms `recipients`, summed. */
  serverCount: number;
  startUs: number;
  endUs: number;
  error?: string;
}

function post(agent: Agent, url: string, path: string, apiKey: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-api-key': apiKey } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error('request timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Publishes `items` items at the side's rate: one batch of `side.batch` items every interval, as one
 * POST (stream) or one POST per item (room, batches of one; `emptyRoom`: every POST to a room nobody
 * joined). Fresh keep-alive connections each phase (a socket idle past the server's keep-alive
 * timeout would reset).
 */
async function publish(ctx: Ctx, side: Side, apiKey: string, ph: number, items: number, emptyRoom?: string): Promise<PublishOutcome> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  try {
    return await publishWith(ctx, side, apiKey, agent, ph, items, emptyRoom);
  } finally {
    agent.destroy();
  }
}

async function publishWith(ctx: Ctx, side: Side, apiKey: string, agent: Agent, ph: number, items: number, emptyRoom?: string): Promise<PublishOutcome> {
  const { plan } = ctx;
  const url = side.target.urls[0];
  const intervalUs = (side.batch * 1e6) / side.rate;
  // More than 10 s of requests unanswered: the server does not keep up, stop (bounds the phase).
  const maxInFlight = Math.max(100, (10 * side.rate) / side.batch);
  const startUs = nowUs();
  const pending: Array<Promise<void>> = [];
  let sent = 0;
  let requests = 0;
  let serverCount = 0;
  let error: string | undefined;
  let inFlight = 0;
  const send = (path: string, body: string, count: (answer: Record<string, unknown>) => number) => {
    requests++;
    inFlight++;
    pending.push(
      post(agent, url, path, apiKey, body).then(
        (res) => {
          inFlight--;
          if (res.status !== 200) error ??= `${path}: HTTP ${res.status} ${res.body.slice(0, 200)}`;
          else serverCount += count(JSON.parse(res.body) as Record<string, unknown>);
        },
        (err: Error) => {
          inFlight--;
          error ??= `${path}: ${err.message}`;
        },
      ),
    );
  };
  for (let b = 0; sent < items && !error; b++) {
    const waitMs = (startUs + b * intervalUs - nowUs()) / 1000;
    if (waitMs > 0.5) await sleep(waitMs);
    if (inFlight > maxInFlight) {
      error = `more than ${Math.round(maxInFlight)} requests (10 s of items) unanswered: the server does not keep up`;
      break;
    }
    const n = Math.min(side.batch, items - sent);
    const ts = nowUs();
    const batch = Array.from({ length: n }, (_, j) => {
      const seq = sent + j;
      const shard = seq % plan.streamValues;
      return { event_id: `bench-${ph}-${seq}`, event_type: 'bench', payload: { shard, seq }, content: content(ts, ph * VALUE_SPAN + (seq % side.values), plan.payloadBytes) };
    });
    sent += n;
    if (side.kind === 'stream') send(`/api/v1/streams/${STREAM_TYPE}`, JSON.stringify(batch), (a) => Number(a.delivered ?? 0));
    else for (const item of batch) send(`/api/v1/ws/rooms/${emptyRoom ?? `${ROOM_PREFIX}0`}/broadcast`, JSON.stringify({ type: EVENT, ...item }), (a) => Number(a.recipients ?? 0));
  }
  await Promise.all(pending);
  return { sent, requests, serverCount, startUs, endUs: nowUs(), error };
}

interface Measured {
  pub: PublishOutcome;
  hist: Histogram;
  expected: number;
  /** Deliveries of the client's own value, counted after the settle time. */
  right: number;
  missing: number;
  extra: number;
  /** Deliveries of another value than the client's (misrouted). */
  wrong: number;
  clientsWrong: number;
  spanS: number;
  wallUs: number;
  cpuUs: number;
  clientUtilMax: number;
}

/**
 * Server CPU of one room broadcast POST that reaches nobody (a room no client joined), at the room
 * path's pacing (2 s of it, at least 200 POSTs): the HTTP, auth, validation and publish cost the room
 * path pays per item (and the stream path per batch), used for the `_net` figures. A POST costs more
 * at a slow pacing than at a fast one (twice as much at 100 a second as at 1,000 on a 2-core test
 * machine), so the pacing is the room path's own.
 */
async function calibrate(ctx: Ctx, side: Side, apiKey: string): Promise<number> {
  const requests = Math.max(200, Math.round(2 * side.rate));
  await quiesce(side.target.sample, 5000);
  const s0 = await side.target.sample();
  const pub = await publish(ctx, side, apiKey, ctx.nextPhase(), requests, `${ROOM_PREFIX}empty`);
  await quiesce(side.target.sample, 5000);
  const s1 = await side.target.sample();
  if (pub.error) throw new Error(`calibration publish failed: ${pub.error}`);
  if (pub.serverCount !== 0) throw new Error(`calibration room had ${pub.serverCount} recipients`);
  // The quiesce's last 250 ms of idle CPU is counted too: negligible next to the requests.
  return (s1.cpuUs - s0.cpuUs) / pub.requests;
}

/**
 * How long a phase may wait for its deliveries: three times its publishing time, plus its deliveries
 * at 20,000 a second (a saturated server trails the publisher by its backlog), plus 20 s.
 */
function phaseBoundMs(ctx: Ctx, side: Side, items: number): number {
  return (items / side.rate) * 3000 + (items * ctx.plan.streamClients) / side.values / 20 + 20_000;
}

async function phase(ctx: Ctx, side: Side, apiKey: string, items: number): Promise<Measured> {
  const { pool } = ctx;
  const perValue = Array.from({ length: side.values }, (_, v) => (v < items ? Math.floor((items - 1 - v) / side.values) + 1 : 0));
  const expectedOf = ({ from, count }: Share) => {
    let e = 0;
    for (let k = from; k < from + count; k++) e += perValue[k % side.values];
    return e;
  };
  const timeoutMs = phaseBoundMs(ctx, side, items);
  const ph = ctx.nextPhase();
  await pool.all(() => ({ cmd: 'begin', phase: ph }));
  const s0 = await side.target.sample();
  const t0 = nowUs();
  const waits = Promise.all(side.shares.map((sh, w) => pool.request<PhaseStats>(w, { cmd: 'await', group: side.group, expected: expectedOf(sh), timeoutMs }, timeoutMs + 10_000)));
  const pub = await publish(ctx, side, apiKey, ph, items);
  if (pub.error) await pool.all(() => ({ cmd: 'abort' }));
  const stats = await waits;
  const s1 = await side.target.sample();
  const wallUs = nowUs() - t0;
  // A phase cut short (its bound, a failed publish) leaves a backlog: let it drain (bounded) before the next.
  await quiesce(side.target.sample, DRAIN_MS);
  if (pub.error) throw new Error(`publish failed: ${pub.error}`);
  await sleep(SETTLE_MS);
  const counts = await Promise.all(side.shares.map((_, w) => pool.request<StreamsCountsResult>(w, { cmd: 'streams_counts', group: side.group, phase: ph }, 10_000)));
  const phase = mergePhaseStats(stats);
  checkPhaseEvents(phase.events, `streams ${side.label}`, (m) => ctx.results.warn(m));
  let right = 0;
  let missing = 0;
  let extra = 0;
  let wrong = 0;
  let clientsWrong = 0;
  for (const c of counts) {
    c.values.forEach((v, k) => {
      const exp = perValue[v];
      right += Math.min(c.counts[k], exp);
      missing += Math.max(0, exp - c.counts[k]);
      extra += Math.max(0, c.counts[k] - exp);
      wrong += c.wrong[k];
      if (c.counts[k] !== exp || c.wrong[k]) clientsWrong++;
    });
  }
  return {
    pub,
    hist: phase.hist,
    expected: side.shares.reduce((a, sh) => a + expectedOf(sh), 0),
    right,
    missing,
    extra,
    wrong,
    clientsWrong,
    spanS: (phase.lastUs - pub.startUs) / 1e6,
    wallUs,
    cpuUs: s1.cpuUs - s0.cpuUs,
    clientUtilMax: phase.clientUtilMax,
  };
}

function record(ctx: Ctx, side: Side, m: Measured, requestCpuUs: number, setupS?: number): void {
  const { plan, results } = ctx;
  const metrics: Record<string, number> = {
    deliveries_per_s: round(m.right / m.spanS, 0),
    items_per_s: round(m.pub.sent / ((m.pub.endUs - m.pub.startUs) / 1e6), 0),
    cpu_us_per_delivery: round(m.cpuUs / m.right, 2),
    cpu_us_per_delivery_net: round(Math.max(0, m.cpuUs - m.pub.requests * requestCpuUs) / m.right, 2),
    cpu_us_per_item: round(m.cpuUs / m.pub.sent, 1),
    http_requests: m.pub.requests,
    request_cpu_us: round(requestCpuUs, 1),
    p50_ms: round(m.hist.quantile(0.5) / 1000, 2),
    p99_ms: round(m.hist.quantile(0.99) / 1000, 2),
    max_ms: round(m.hist.maxUs / 1000, 2),
    server_cpu_util: round(m.cpuUs / m.wallUs, 2),
    client_cpu_util_max: round(m.clientUtilMax, 2),
    deliveries_missing: m.missing,
    deliveries_extra: m.extra + m.wrong,
    clients_wrong: m.clientsWrong,
  };
  if (setupS !== undefined) metrics.join_s = round(setupS, 2);
  results.add('streams', side.label, plan.streamClients, metrics);
  ctx.log(
    `    streams ${side.label}: ${m.pub.sent} items in ${m.pub.requests} requests, ${m.right} of ${m.expected} deliveries (${m.missing} missing, ${m.extra} extra, ${m.wrong} of another value; ${m.clientsWrong} clients off; server counted ${m.pub.serverCount}), ` +
      `${metrics.deliveries_per_s} deliveries/s, ${metrics.cpu_us_per_delivery} µs CPU/delivery (net of requests ${metrics.cpu_us_per_delivery_net}; ${metrics.cpu_us_per_item} µs/item, ${metrics.server_cpu_util} cores), ` +
      `p50 ${metrics.p50_ms} ms, p99 ${metrics.p99_ms} ms, max ${metrics.max_ms} ms, busiest client ${metrics.client_cpu_util_max}`,
  );
  if (m.missing || m.extra || m.wrong) results.fail(`streams ${side.label}: ${m.missing} deliveries missing, ${m.extra} extra and ${m.wrong} of another value (${m.clientsWrong} clients off) of ${m.expected}`);
  const offered = (side.rate * plan.streamClients) / side.values;
  if (metrics.deliveries_per_s < offered * 0.9) {
    results.warn(`streams ${side.label}: ${metrics.deliveries_per_s} deliveries/s of the ${offered} offered: the machine did not keep up with the fixed rate, latency includes queueing`);
  }
  if (m.clientUtilMax > 0.9) results.warn(`streams ${side.label}: a client process used ${Math.round(m.clientUtilMax * 100)}% of a core: the clients may be the bottleneck`);
}
