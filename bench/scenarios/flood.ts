import { randomBytes } from 'node:crypto';
import type { FloodResult, PacedResult } from '../clients/commands';
import { Histogram } from '../lib/histogram';
import { round, sleep } from '../lib/stats';
import { procfsSampler, type Sampler } from '../lib/proc-stats';
import { startGateway, startSocketio, type Target } from '../servers/targets';
import { ensureTime, OutOfTime, quiesce, type Ctx } from './context';

/**
 * Scenario 7 (message pipeline): does one abusive user hurt the others? One gateway with its
 * DEFAULT limits (60 request-class messages a minute per user, 100 per connection, 1000
 * broadcasts a minute per room, a connection closed after 100 refusals within a minute...), and
 * `floodUsers` well-behaved users (a `sub` each, one connection each, all on client process 0) in
 * one room sending acked cell updates at `floodUserRate` a second each, well inside every budget.
 * Their ack latency is measured for `floodSeconds` without a flood, then for `floodSeconds` while
 * one abuser (a `sub` of its own, on client process 1, joined to the same room) sends cell updates
 * as fast as `floodRate` and the socket allow, reconnecting at once whenever it is disconnected.
 * The same against bare socket.io, which has no limits: what the room suffers without the pipeline.
 */
export const FLOOD_GATEWAY = 'gateway (default limits)';
export const FLOOD_SOCKETIO = 'socketio';
const ROOM = 'flood';
const USERS = (label: string) => `flood-users:${label}`;

interface FloodTarget {
  label: string;
  target: Target;
  /**
   * CPU and RSS from /proc for every server here: a socket.io server saturated by the flood answers
   * the IPC stats request of the other scenarios only once the flood is over.
   */
  sample: Sampler;
  /** Bearer token for the gateway's /metrics (server-side refusal counts); none for socket.io. */
  metricsToken?: string;
  warmed?: boolean;
  /** Every repetition's well-behaved acks, without and with the flood (p99 over all of them). */
  pooled: { calm: Histogram; flood: Histogram };
}

function floodTarget(label: string, target: Target, metricsToken?: string): FloodTarget {
  return { label, target, sample: target.pid ? procfsSampler(target.pid) : target.sample, metricsToken, pooled: { calm: new Histogram(), flood: new Histogram() } };
}

/** Sums of the gateway's Prometheus counters that tell what the pipeline did, by series. */
async function scrape(t: FloodTarget): Promise<Record<string, number>> {
  if (!t.metricsToken) return {};
  try {
    const res = await fetch(`${t.target.urls[0]}/metrics`, { headers: { authorization: `Bearer ${t.metricsToken}` } });
    if (!res.ok) return {};
    const out: Record<string, number> = {};
    for (const line of (await res.text()).split('\n')) {
      const m = /^(gateway_(?:rate_limited|connections_opened|connections_refused|messages_dropped)_total(?:\{[^}]*\})?) (\S+)$/.exec(line);
      if (m) out[m[1]] = Number(m[2]);
    }
    return out;
  } catch {
    return {};
  }
}

const delta = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.keys(b).map((k) => [k.replace(/^gateway_|_total/g, ''), b[k] - (a[k] ?? 0)]).filter(([, v]) => v !== 0));
const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
const show = (m: Record<string, number>) => (Object.keys(m).length ? Object.entries(m).map(([k, v]) => `${k} ${v}`).join(', ') : 'none');

export async function floodScenario(ctx: Ctx): Promise<void> {
  const { plan, pool, results } = ctx;
  if (pool.workers.length < 2) {
    results.fail('flood: needs two client processes (the abuser runs in its own)');
    return;
  }
  const n = plan.floodUsers;
  const rate = n * plan.floodUserRate;
  const wanted = (kind: string) => !plan.servers || plan.servers.has(kind);
  const entries: Array<{ label: string; start: () => Promise<FloodTarget> }> = [];
  if (wanted('gateway')) {
    entries.push({
      label: FLOOD_GATEWAY,
      start: async () => {
        // The gateway's defaults for every limit; only /metrics is enabled, to read its own counts.
        const metricsToken = randomBytes(16).toString('hex');
        return floodTarget(FLOOD_GATEWAY, await startGateway({ ...ctx.start, gatewayEnv: { METRICS_TOKEN: metricsToken } }), metricsToken);
      },
    });
  }
  if (wanted('socketio')) entries.push({ label: FLOOD_SOCKETIO, start: async () => floodTarget(FLOOD_SOCKETIO, await startSocketio(ctx.start)) });

  let live: FloodTarget[] = [];
  const drop = async (t: FloodTarget, err: Error) => {
    results.fail(`flood ${t.label}: ${err.message}`);
    ctx.log(`  flood ${t.label} FAILED: ${err.message}`);
    live = live.filter((x) => x !== t);
    await t.target.stop();
    await pool.close(USERS(t.label)).catch(() => undefined);
  };
  const pacedPhase = (t: FloodTarget, prefix: string, seconds: number) =>
    pool.request<PacedResult>(0, { cmd: 'paced', group: USERS(t.label), cellPrefix: prefix, ratePerS: rate, seconds }, seconds * 1000 + 15_000);

  try {
    for (const e of entries) {
      ensureTime(ctx, 10_000, `flood ${e.label}`);
      let t: FloodTarget;
      try {
        t = await e.start();
      } catch (err) {
        results.fail(`flood ${e.label}: ${(err as Error).message}`);
        continue;
      }
      live.push(t);
      try {
        const conn = await pool.request<{ failed: number; errors: string[] }>(0, { cmd: 'connect', group: USERS(t.label), kind: t.target.kind, url: t.target.urls[0], room: ROOM, from: 0, count: n, concurrency: 50, timeoutMs: 20_000 }, 40_000);
        if (conn.failed) throw new Error(`${conn.failed} of ${n} users could not connect: ${conn.errors.join('; ')}`);
        const join = await pool.request<{ failed: number; errors: string[] }>(0, { cmd: 'join', group: USERS(t.label), room: ROOM, concurrency: 50, timeoutMs: 20_000 }, 25_000);
        if (join.failed) throw new Error(`${join.failed} of ${n} users could not join: ${join.errors.join('; ')}`);
        await quiesce(t.sample, 10_000);
      } catch (err) {
        if (err instanceof OutOfTime) throw err;
        await drop(t, err as Error);
      }
    }

    for (let r = 0; r < plan.reps; r++) {
      for (const t of live.map((_, i) => live[(i + r) % live.length])) {
        ensureTime(ctx, plan.floodSeconds * 2000 + 30_000, `flood ${t.label}`);
        try {
          await floodRep(ctx, t, r, pacedPhase);
        } catch (err) {
          if (err instanceof OutOfTime) throw err;
          await drop(t, err as Error);
        }
      }
    }
  } finally {
    for (const t of live) {
      await t.target.stop();
      await pool.close(USERS(t.label)).catch(() => undefined);
    }
  }
  // One repetition has a few hundred acks per phase, so its p99 is one of its three or four worst:
  // the p99 over every repetition's acks is the steadier figure (flood_p99_ratio uses it).
  for (const t of [...live]) {
    if (!t.pooled.calm.count || !t.pooled.flood.count) continue;
    const pooled = { calm_p99_all_ms: round(t.pooled.calm.quantile(0.99) / 1000, 2), flood_p99_all_ms: round(t.pooled.flood.quantile(0.99) / 1000, 2) };
    results.add('flood', t.label, n, pooled);
    ctx.log(`    flood ${t.label}: well-behaved ack p99 over all repetitions ${pooled.calm_p99_all_ms} ms without a flood (${t.pooled.calm.count} acks), ${pooled.flood_p99_all_ms} ms under it (${t.pooled.flood.count} acks)`);
  }
}

async function floodRep(
  ctx: Ctx,
  t: FloodTarget,
  r: number,
  pacedPhase: (t: FloodTarget, prefix: string, seconds: number) => Promise<PacedResult>,
): Promise<void> {
  const { plan, pool, results } = ctx;
  const n = plan.floodUsers;
  const secs = plan.floodSeconds;
  if (!t.warmed) {
    await pacedPhase(t, `warm`, 3); // JIT, not recorded
    t.warmed = true;
  }
  // Without a flood.
  const c0 = await t.sample();
  const calm = await pacedPhase(t, `calm${r}`, secs);
  const c1 = await t.sample();

  // With a flood: the abuser (a new user each repetition) starts a second before the measured
  // phase and stops a second after it.
  const m0 = await scrape(t);
  const abuse = pool.request<FloodResult>(
    1,
    { cmd: 'flood', kind: t.target.kind, url: t.target.urls[0], room: ROOM, userIndex: r, connections: plan.floodConnections, ratePerS: plan.floodRate, seconds: secs + 2, connectTimeoutMs: 10_000 },
    secs * 1000 + 30_000,
  );
  const abuseDone = abuse.then(
    (x) => x,
    (err: Error) => err,
  );
  await sleep(1000);
  const f0 = await t.sample();
  const flooded = await pacedPhase(t, `flood${r}`, secs);
  const f1 = await t.sample();
  const ab = await abuseDone;
  if (ab instanceof Error) throw ab;
  await quiesce(t.sample, 15_000);
  const server = delta(m0, await scrape(t));

  t.pooled.calm.merge(calm.hist);
  t.pooled.flood.merge(flooded.hist);
  const p = (x: PacedResult, q: number) => {
    const h = new Histogram();
    h.merge(x.hist);
    return round(h.quantile(q) / 1000, 2);
  };
  const cores = (a: { cpuUs: number }, b: { cpuUs: number }, wallUs: number) => round((b.cpuUs - a.cpuUs) / wallUs, 2);
  const failedWell = sum(calm.failed) + sum(flooded.failed);
  const well = {
    calm_p50_ms: p(calm, 0.5),
    calm_p99_ms: p(calm, 0.99),
    flood_p50_ms: p(flooded, 0.5),
    flood_p99_ms: p(flooded, 0.99),
    acks_per_s: round(flooded.ok / (flooded.wallUs / 1e6), 1),
    well_failed: failedWell,
    server_cores_calm: cores(c0, c1, calm.wallUs),
    server_cores_flood: cores(f0, f1, flooded.wallUs),
    users_client_cores_flood: round(flooded.cpuUs / flooded.wallUs, 2),
  };
  const refused = sum(ab.refused);
  const abuser = {
    frames_per_s: round(ab.sent / Math.max(ab.floodUs / 1e6, 1e-3), 0),
    sent: ab.sent,
    served: ab.served,
    refused,
    unanswered: ab.unanswered,
    disconnects: ab.disconnects,
    first_disconnect_ms: ab.firstDisconnectMs,
    reconnect_attempts: ab.reconnectAttempts,
    reconnected: ab.reconnected,
    abuser_client_cores: round(ab.cpuUs / ab.wallUs, 2),
  };
  results.add('flood', t.label, n, well);
  results.add('flood_abuser', t.label, n, abuser);
  ctx.log(
    `    flood ${t.label} rep ${r + 1}: well-behaved ack p50/p99 ${well.calm_p50_ms}/${well.calm_p99_ms} ms without a flood, ` +
      `${well.flood_p50_ms}/${well.flood_p99_ms} ms under it (${calm.ok}+${flooded.ok} acks, failed: ${show({ ...calm.failed, ...flooded.failed })}, ${calm.closed + flooded.closed} closed); ` +
      `server ${well.server_cores_calm} -> ${well.server_cores_flood} cores, users' client ${well.users_client_cores_flood} cores`,
  );
  ctx.log(
    `      abuser: ${ab.sent} frames (${abuser.frames_per_s}/s), served ${ab.served}, refused ${show(ab.refused)}, unanswered ${ab.unanswered}; ` +
      `disconnected ${ab.disconnects} times (first after ${ab.firstDisconnectMs} ms), error events ${show(ab.errorEvents)}; ` +
      `reconnect attempts ${ab.reconnectAttempts} (${ab.reconnected} accepted, failures: ${show(ab.connectFailures)}); joins ok ${ab.joinsOk}, refused ${show(ab.joinsRefused)}; client ${abuser.abuser_client_cores} cores`,
  );
  if (t.metricsToken) ctx.log(`      gateway /metrics over the flood phase: ${show(server)}`);
  // The flood must cover every send of the measured phase (its acks may come later).
  if (!ab.firstFrameUs || ab.firstFrameUs > flooded.startUs || ab.floodEndUs < flooded.startUs + secs * 1e6) {
    results.warn(`flood ${t.label} rep ${r + 1}: the abuser's flood did not cover the measured phase (it flooded ${round((ab.firstFrameUs - flooded.startUs) / 1e6, 2)} .. ${round((ab.floodEndUs - flooded.startUs) / 1e6, 2)} s from the phase's start; the phase sent for ${secs} s)`);
  }
  if (failedWell) results.warn(`flood ${t.label}: ${failedWell} well-behaved requests failed (${show({ ...calm.failed, ...flooded.failed })})`);
  if (well.users_client_cores_flood > 0.9) {
    results.warn(`flood ${t.label}: the well-behaved users' client process used ${Math.round(well.users_client_cores_flood * 100)}% of a core under the flood: their latency includes the client's own queueing`);
  }
}
