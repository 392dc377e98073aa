/**
 * Two builds of the gateway in one run, repetitions interleaved (so both meet the same load from
 * the rest of a shared machine): fan-out CPU per delivery and the connect storm's CPU per connect.
 * For telling a real regression from run-to-run noise, e.g. before and after a change:
 *   git archive <commit> | tar -x -C /tmp/a && ln -s "$PWD/node_modules" /tmp/a/node_modules && (cd /tmp/a && npx tsc -p .)
 *   npm run build && node dist/bench/ab-gateways.js --a=/tmp/a --b=. [--reps=5] [--sizes=1000,5000] [--connect=5000] [--socketio] [--single]
 * --socketio adds bare socket.io to the fan-out and the connect storms; --sizes=0 skips the fan-out.
 * --a-node / --b-node give one build Node options of its own (space-separated, e.g.
 * --b-node=--max-semi-space-size=16), so that two runtime settings of one build can be compared.
 * Each directory needs a built dist/server/index.js; both run with BENCH_LIMITS.
 */
import { randomBytes } from 'node:crypto';
import { basename, join, resolve } from 'node:path';
import { ClientPool } from './clients/pool';
import { planFrom } from './lib/plan';
import { procfsSampler } from './lib/proc-stats';
import { freePort, killAllNow, spawnChild, stopAll, stopChild, waitUntil } from './lib/procs';
import { Results } from './lib/results';
import { renderText, tables } from './report/table';
import type { Ctx } from './scenarios/context';
import { measuredStorm } from './scenarios/connect';
import { roomsBench, type Entry } from './scenarios/room';
import { BENCH_LIMITS, startSocketio, type Target } from './servers/targets';

/** The value of `--name=value` (everything after the first `=`: Node options have their own). */
const arg = (name: string): string | undefined => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found?.slice(name.length + 3);
};
const nodeOptions = (name: string): string[] => (arg(name) ?? '').split(' ').filter(Boolean);

async function startBuild(label: string, dir: string, secret: string, execArgv: string[]): Promise<Target> {
  const port = await freePort();
  const env = { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'production', LOG_LEVEL: 'warn', JWT_SECRET: secret, ...BENCH_LIMITS };
  const child = await spawnChild(label, process.execPath, [...execArgv, join(dir, 'dist', 'server', 'index.js')], env);
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(`${label} /readyz`, async () => {
    if (child.proc.exitCode !== null) throw new Error(`${label} exited: ${child.tail()}`);
    return (await fetch(`${url}/readyz`)).status === 200;
  }, 20_000);
  return { label, kind: 'gateway', urls: [url], sample: procfsSampler(child.pid), pid: child.pid, side: {}, stop: () => stopChild(child, 'SIGKILL') };
}

async function main(): Promise<void> {
  const a = arg('a');
  const b = arg('b');
  if (!a || !b) throw new Error('usage: node dist/bench/ab-gateways.js --a=<dir> --b=<dir> [--reps=5] [--sizes=1000,5000] [--connect=5000] [--socketio] [--single] [--a-node=<node options>] [--b-node=<node options>]');
  const reps = Number(arg('reps') ?? 5);
  const plan = planFrom([`--reps=${reps}`]);
  const sizes = (arg('sizes') ?? '1000,5000').split(',').map(Number).filter((n) => n >= 2 && n <= 10_000);
  const connect = Number(arg('connect') ?? 5000);
  const builds = [
    { label: `A ${basename(resolve(a))}`, dir: resolve(a), execArgv: nodeOptions('a-node') },
    { label: `B ${basename(resolve(b))}`, dir: resolve(b), execArgv: nodeOptions('b-node') },
  ].map((x) => (x.execArgv.length ? { ...x, label: `${x.label} ${x.execArgv.join(' ')}` } : x));
  const secret = randomBytes(24).toString('hex');
  const pool = ClientPool.start(plan.clients, secret);
  const results = new Results();
  let phase = 0;
  const ctx: Ctx = { plan, pool, results, start: { secret }, deadline: Date.now() + 30 * 60_000, log: (l) => process.stdout.write(`${l}\n`), nextPhase: () => ++phase };
  try {
    const entries: Entry[] = builds.map((x) => ({ label: x.label, start: () => startBuild(x.label, x.dir, secret, x.execArgv) }));
    if (process.argv.includes('--socketio')) entries.unshift({ label: 'socketio', start: () => startSocketio({ secret }) });
    // --single: also one message in flight at a time (nothing to coalesce) at the first size.
    const single = process.argv.includes('--single');
    for (const n of sizes) await roomsBench(ctx, entries, n, { fanoutScenario: 'fanout', singleScenario: single && n === sizes[0] ? 'fanout_single' : undefined });
    // The connect storms (warm code), the builds alternating (and bare socket.io with --socketio).
    for (let r = 0; connect > 0 && r < reps; r++) {
      for (const x of r % 2 ? [...entries].reverse() : entries) {
        const t = await x.start();
        try {
          // As the bench's connect scenario: a warm-up storm of the same size first (warm code).
          const m = await measuredStorm(pool, t, x.label, connect, plan.connectConcurrency);
          results.add('connect', x.label, connect, m);
          ctx.log(`    connect ${x.label} N=${connect}: ${m.connects_per_s} connects/s, ${m.cpu_us_per_connect} µs CPU/connect`);
        } finally {
          await t.stop();
          await pool.close(x.label).catch(() => undefined);
        }
      }
    }
  } finally {
    await pool.stop().catch(() => undefined);
    await stopAll();
  }
  ctx.log(`\n${renderText(tables(results.figures()))}`);
  for (const f of results.figures()) ctx.log(JSON.stringify({ type: 'figure', scenario: f.scenario, server: f.server, n: f.n, metric: f.metric, median: f.median, min: f.min, max: f.max, values: f.values }));
}

process.on('exit', killAllNow);
main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`ab-gateways failed: ${err.stack ?? err}\n`);
    killAllNow();
    process.exit(1);
  },
);
