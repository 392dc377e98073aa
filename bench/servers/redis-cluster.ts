import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { freeClusterPort } from '../lib/ports';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { procfsSampler, sumSamplers, type Sampler } from '../lib/proc-stats';
import { spawnChild, stopChild, waitUntil, type Child } from '../lib/procs';

const run = promisify(execFile);

/**
 * A local Redis Cluster for the sharded scenario (modelled on tests/support/redis-cluster.ts):
 * `masters` redis-server processes in cluster mode on free ports of 127.0.0.1 (each with its
 * cluster bus port, port + 10000, free too), no replicas, no persistence, joined with
 * `redis-cli --cluster create`. Each redis-server is a harness child (bench/lib/procs.ts, through
 * the launcher), so it is stopped at the end, on error, on SIGINT and when the harness dies;
 * `stop()` kills them and removes the temporary folder of their nodes.conf files.
 */
export interface RedisCluster {
  /** Seed nodes as REDIS_CLUSTER_NODES takes them (`127.0.0.1:<port>,...`). */
  seeds: string;
  ports: number[];
  /** CPU time and RSS summed over the redis-server processes (from /proc). */
  sample: Sampler;
  stop(): Promise<void>;
}

/** Temporary folders of clusters still running: removed on exit too (SIGINT, the hard time bound). */
const dirs = new Set<string>();
process.once('exit', () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function startNode(dir: string, port: number): Promise<Child> {
  const name = `redis-cluster-${port}`;
  const child = await spawnChild(
    name,
    'redis-server',
    [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--cluster-enabled', 'yes',
      '--cluster-config-file', join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout', '5000',
      '--dir', dir,
      '--save', '',
      '--appendonly', 'no',
    ],
    { PATH: process.env.PATH },
  );
  await waitUntil(name, async () => {
    if (child.proc.exitCode !== null) throw new Error(`${name} exited: ${child.tail()}`);
    return /Ready to accept connections/.test(child.tail());
  }, 10_000).catch(async (err: Error) => {
    await stopChild(child, 'SIGKILL');
    throw new Error(`${err.message}\n${child.tail()}`);
  });
  return child;
}

/** Waits until every node says `cluster_state:ok` and knows every other node. */
async function waitOk(ports: number[], timeoutMs: number): Promise<void> {
  let last = '';
  const ok = async () => {
    const states = await Promise.all(
      ports.map((p) =>
        run('redis-cli', ['-h', '127.0.0.1', '-p', String(p), 'cluster', 'info'], { timeout: 5000 }).then(
          (r) => r.stdout,
          (e: Error) => e.message,
        ),
      ),
    );
    last = states.join('\n---\n');
    return states.every((s) => s.includes('cluster_state:ok') && s.includes(`cluster_known_nodes:${ports.length}`));
  };
  await waitUntil('Redis Cluster ok', ok, timeoutMs, 100).catch((err: Error) => {
    throw new Error(`${err.message}:\n${last}`);
  });
}

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'rg-bench-redis-cluster-'));
  dirs.add(dir);
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) ports.push(await freeClusterPort(taken));
  const nodes: Child[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => stopChild(n, 'SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
  };
  try {
    const started = await Promise.allSettled(ports.map((p) => startNode(dir, p)));
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 20_000 });
    await waitOk(ports, 20_000);
  } catch (err) {
    await stop();
    throw new Error(`Redis Cluster did not start: ${(err as Error).message}`);
  }
  return {
    seeds: ports.map((p) => `127.0.0.1:${p}`).join(','),
    ports,
    sample: sumSamplers(nodes.map((n) => procfsSampler(n.pid))),
    stop,
  };
}
