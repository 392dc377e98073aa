import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../server/config';
import { createGateway } from '../../server/gateway';
import { REPO_ROOT } from '../servers/targets';

/** The machine, the code and the gateway's socket.io tuning, for the report. */
export interface Environment {
  machine: { cpus: string; cores: number; memGb: number; os: string; node: string; loadavg: string };
  git: string;
  versions: Record<string, string>;
  /** The engine options the gateway actually runs with, read from a gateway built by its own code. */
  gatewayTuning: Record<string, unknown>;
}

function version(pkg: string): string {
  try {
    const file = join(REPO_ROOT, 'node_modules', pkg, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'absent';
  }
}

/** Whether `ws` (as loaded by engine.io) finds a native helper module. */
function wsFinds(mod: string): boolean {
  try {
    require.resolve(mod, { paths: [dirname(require.resolve('ws'))] });
    return !process.env[`WS_NO_${mod === 'bufferutil' ? 'BUFFER_UTIL' : 'UTF_8_VALIDATE'}`];
  } catch {
    return false;
  }
}

async function gatewayTuning(secret: string): Promise<Record<string, unknown>> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'production', LOG_LEVEL: 'error', JWT_SECRET: secret });
  const gw = await createGateway(config);
  try {
    const o = (gw.io.engine as unknown as { opts: Record<string, unknown> }).opts;
    const wsEngine = o.wsEngine as { name?: string } | undefined;
    return {
      transports: o.transports,
      perMessageDeflate: o.perMessageDeflate ?? false,
      httpCompression: Boolean(o.httpCompression),
      wsEngine: wsEngine?.name ?? String(wsEngine),
      allowEIO3: o.allowEIO3,
      maxHttpBufferSize: o.maxHttpBufferSize,
      pingInterval: o.pingInterval,
      pingTimeout: o.pingTimeout,
      bufferutil: wsFinds('bufferutil'),
      'utf-8-validate': wsFinds('utf-8-validate'),
    };
  } finally {
    await gw.close();
  }
}

export async function describeEnvironment(secret: string): Promise<Environment> {
  let git = 'unknown';
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'server', 'shared'], { cwd: REPO_ROOT }).toString().trim();
    git = dirty ? `${head} + uncommitted changes in server/ or shared/` : head;
  } catch {
    // not a git checkout
  }
  let tuning: Record<string, unknown>;
  try {
    tuning = await gatewayTuning(secret);
  } catch (err) {
    tuning = { error: `could not read: ${(err as Error).message}` };
  }
  const c = cpus();
  return {
    machine: {
      cpus: `${c.length} x ${c[0]?.model ?? 'unknown CPU'}`,
      cores: c.length,
      memGb: Math.round(totalmem() / 2 ** 30),
      os: `${process.platform} ${release()}`,
      node: process.version,
      loadavg: loadavg().map((x) => x.toFixed(2)).join(' '),
    },
    git,
    versions: { 'socket.io': version('socket.io'), 'engine.io': version('engine.io'), ws: version('ws'), redis: redisVersion() },
    gatewayTuning: tuning,
  };
}

function redisVersion(): string {
  try {
    return /v=(\S+)/.exec(execFileSync('redis-server', ['--version']).toString())?.[1] ?? 'unknown';
  } catch {
    return 'absent';
  }
}
