import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { forkServer, freePort, spawnChild, stopChild, waitUntil, type Child } from '../lib/procs';
import { Inspector } from '../lib/inspector';
import { ipcSampler, procfsSampler, sumSamplers, type Sampler } from '../lib/proc-stats';
import type { ServerKind } from '../clients/protocol';

/**
 * Starting the servers under test, each its own child process on 127.0.0.1: the two baselines
 * (our scripts, stats over IPC), the gateway as it ships (`node dist/server/index.js`, stats from
 * /proc), and redis-server for the cluster.
 */
export interface Target {
  label: string;
  kind: ServerKind;
  /** http://127.0.0.1:<port>, one per pod. */
  urls: string[];
  /** RSS and CPU time, summed over the target's server processes. */
  sample: Sampler;
  /** The server process (single-process targets), for sampling it from /proc. */
  pid?: number;
  /** Other processes worth reporting (redis-server). */
  side: Record<string, Sampler>;
  /** The V8 inspector of the (single) server process, when started with `inspect`. */
  inspector?: Inspector;
  stop(): Promise<void>;
}

export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export interface StartOptions {
  secret: string;
  /** Directory for `node --cpu-prof` output of the gateway; unset: no profiling. */
  profileDir?: string;
  /** Start with `--inspect=127.0.0.1:0` and attach (memory scenario: GC before RSS samples). */
  inspect?: boolean;
  /** Gateway environment used instead of BENCH_LIMITS (the flood scenario: the default limits). */
  gatewayEnv?: Readonly<Record<string, string>>;
}

const INSPECT = ['--inspect=127.0.0.1:0'];

async function startBaseline(kind: 'socketio' | 'ws', label: string, opts: StartOptions, env: NodeJS.ProcessEnv = {}): Promise<Target> {
  const script = join(__dirname, kind === 'ws' ? 'ws-baseline.js' : 'socketio-baseline.js');
  const { child, port } = await forkServer(label, script, { PATH: process.env.PATH, NODE_ENV: 'production', PORT: '0', ...env }, opts.inspect ? INSPECT : []);
  return {
    label,
    kind,
    urls: [`http://127.0.0.1:${port}`],
    sample: ipcSampler(child.proc),
    pid: child.pid,
    side: {},
    inspector: opts.inspect ? await Inspector.attach(child) : undefined,
    stop: () => stopChild(child, 'SIGKILL'),
  };
}

export const startSocketio = (opts: StartOptions) => startBaseline('socketio', 'socketio', opts);
export const startWs = (opts: StartOptions) => startBaseline('ws', 'ws', opts);
export const SOCKETIO_JWT = 'socketio + jwt';
/** Bare socket.io with one JWT-verifying middleware (the connect scenario's second baseline). */
export const startSocketioJwt = (opts: StartOptions) => startBaseline('socketio', SOCKETIO_JWT, opts, { BASELINE_JWT_SECRET: opts.secret });

/**
 * The message pipeline's limits (server/config.ts, README: Rate limits and protection), for the
 * scenarios that measure throughput: the bench's publisher sends chat messages as fast as the
 * gateway delivers them, far above the per-user and per-room defaults (60 requests a minute, 1000
 * room broadcasts a minute...), which would refuse it within a second. Every limit the gateway
 * runs by default is raised far above anything the bench sends instead of being turned off (0):
 * the guards, counters and rate-limiter-flexible consumes still run on every message and every
 * connection, so their cost is in the figures. CONNECTIONS_PER_IP_PER_MINUTE is off (0) in the
 * gateway as it ships and stays so here. The flood scenario (scenarios/flood.ts) runs the defaults.
 */
export const BENCH_LIMITS: Readonly<Record<string, string>> = Object.freeze({
  WEBSOCKET_REQUESTS_PER_MINUTE: '1000000000',
  WEBSOCKET_REQUESTS_PER_HOUR: '1000000000',
  CONNECTION_REQUESTS_PER_MINUTE: '1000000000',
  STREAM_MESSAGES_PER_SECOND: '1000000000',
  CONTROL_MESSAGES_PER_MINUTE: '1000000000',
  RATE_LIMIT_DISCONNECT_AFTER: '1000000000',
  MAX_IN_FLIGHT_PER_CONNECTION: '1000000000',
  ROOM_BROADCASTS_PER_MINUTE: '1000000000',
  // Each bench client has a `sub` of its own today; raised anyway so that a scenario which connects
  // several clients as one user is never refused CONNECTION_LIMIT (the count per user still runs).
  WEBSOCKET_MAX_CONNECTIONS_PER_USER: '1000000000',
});

async function startPod(name: string, opts: StartOptions, redisUrl?: string): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    PORT: String(port),
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    JWT_SECRET: opts.secret,
    UPLOAD_DIR: join(tmpdir(), 'rg-bench-uploads'),
    ...(opts.gatewayEnv ?? BENCH_LIMITS),
    ...(redisUrl ? { REDIS_URL: redisUrl, POD_ID: name } : {}),
  };
  const execArgv = opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : [];
  if (opts.inspect) execArgv.push(...INSPECT);
  const child = await spawnChild(name, process.execPath, [...execArgv, join(REPO_ROOT, 'dist', 'server', 'index.js')], env);
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(`${name} /readyz`, async () => {
    if (child.proc.exitCode !== null) throw new Error(`${name} exited: ${child.tail()}`);
    return (await fetch(`${url}/readyz`)).status === 200;
  }, 20_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${child.tail()}`);
  });
  return { child, url };
}

/** Profiled gateways get SIGTERM (the profile is written on a normal exit); others SIGKILL, fast. */
const stopPod = (child: Child, opts: StartOptions) => stopChild(child, opts.profileDir ? 'SIGTERM' : 'SIGKILL', 20_000);

export async function startGateway(opts: StartOptions): Promise<Target> {
  const pod = await startPod('gateway', opts);
  return {
    label: 'gateway',
    kind: 'gateway',
    urls: [pod.url],
    sample: procfsSampler(pod.child.pid),
    pid: pod.child.pid,
    side: {},
    inspector: opts.inspect ? await Inspector.attach(pod.child) : undefined,
    stop: () => stopPod(pod.child, opts),
  };
}

export interface Redis {
  url: string;
  sample: Sampler;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<Redis> {
  const port = await freePort();
  const child = await spawnChild('redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { PATH: process.env.PATH });
  await waitUntil('redis-server', async () => {
    if (child.proc.exitCode !== null) throw new Error(`redis-server exited: ${child.tail()}`);
    return /Ready to accept connections/.test(child.tail());
  }, 10_000);
  return { url: `redis://127.0.0.1:${port}`, sample: procfsSampler(child.pid), stop: () => stopChild(child, 'SIGKILL') };
}

/** `pods` gateways sharing a harness-started redis-server. */
export async function startCluster(opts: StartOptions, pods: number): Promise<Target> {
  const redis = await startRedis();
  const started: Array<{ child: Child; url: string }> = [];
  try {
    for (let i = 0; i < pods; i++) started.push(await startPod(`gateway-pod${i}`, opts, redis.url));
  } catch (err) {
    await Promise.all(started.map((p) => stopPod(p.child, opts)));
    await redis.stop();
    throw err;
  }
  return {
    label: `gateway x${pods} (redis)`,
    kind: 'gateway',
    urls: started.map((p) => p.url),
    sample: sumSamplers(started.map((p) => procfsSampler(p.child.pid))),
    side: { redis: redis.sample },
    stop: async () => {
      await Promise.all(started.map((p) => stopPod(p.child, opts)));
      await redis.stop();
    },
  };
}

export function startTarget(kind: ServerKind, opts: StartOptions): Promise<Target> {
  if (kind === 'ws') return startWs(opts);
  if (kind === 'socketio') return startSocketio(opts);
  return startGateway(opts);
}

/** Starts one of bench/servers' own HTTP servers (its script, on a free port); resolves with its process and base URL. */
export async function startScript(name: string, script: string, env: NodeJS.ProcessEnv): Promise<{ child: Child; url: string }> {
  const { child, port } = await forkServer(name, join(__dirname, script), { PATH: process.env.PATH, NODE_ENV: 'production', PORT: '0', ...env });
  return { child, url: `http://127.0.0.1:${port}` };
}
