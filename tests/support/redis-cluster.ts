import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from 'redis';
import { freeClusterPort } from '../../bench/lib/ports';
import { createDataCluster, type RedisClusterClient } from '../../server/cluster/redis';
import { redisServerReady } from './redis';

const run = promisify(execFile);

/** Every redis-server started here: killed when the test process exits, however it ends. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of live) proc.kill('SIGKILL');
});

interface Node {
  readonly port: number;
  proc?: ChildProcess;
}

/** A cluster client of the test cluster, as `TestRedisCluster.client()` gives it. */
export type TestClusterClient = RedisClusterClient;

/**
 * A Redis Cluster of the test's own: `masters` redis-server processes in cluster mode on free
 * ports, no replicas, no persistence, joined with `redis-cli --cluster create`. A master can be
 * killed and started again on the same port with the same nodes.conf (it comes back empty and
 * owning its slots). `stop()` kills every process and removes the temporary folder.
 */
export class TestRedisCluster {
  private readonly clients = new Set<TestClusterClient>();
  private constructor(
    private readonly dir: string,
    readonly nodes: Node[],
  ) {}

  static async start(masters = 3): Promise<TestRedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'rg-redis-cluster-'));
    const taken = new Set<number>();
    const nodes: Node[] = [];
    for (let i = 0; i < masters; i++) nodes.push({ port: await freeClusterPort(taken) });
    const cluster = new TestRedisCluster(dir, nodes);
    try {
      await Promise.all(nodes.map((_, i) => cluster.startNode(i)));
      await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], {
        timeout: 20_000,
      });
      await cluster.waitOk();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Seed nodes as REDIS_CLUSTER_NODES takes them. */
  get seeds(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  get ports(): number[] {
    return this.nodes.map((n) => n.port);
  }

  /** Starts node `i` (again): same port, same nodes.conf, empty data. */
  async startNode(i: number): Promise<void> {
    const node = this.nodes[i];
    const proc = spawn(
      'redis-server',
      [
        '--port', String(node.port),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(this.dir, `nodes-${node.port}.conf`),
        '--cluster-node-timeout', '2000',
        '--dir', this.dir,
        '--save', '',
        '--appendonly', 'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    node.proc = proc;
    live.add(proc);
    await redisServerReady(proc, `redis-server ${node.port}`);
  }

  /** SIGKILLs node `i` (no goodbye to its clients) and waits until it is gone. */
  async killNode(i: number): Promise<void> {
    const proc = this.nodes[i].proc;
    this.nodes[i].proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGKILL');
    await once(proc, 'exit');
    live.delete(proc);
  }

  /** The index of the node that serves `slot` (from `cluster nodes`: `<id> <ip:port@bus> <flags> ... <slot ranges>`). */
  async nodeOfSlot(slot: number): Promise<number> {
    const live = this.nodes.find((n) => n.proc)!;
    const { stdout } = await run('redis-cli', ['-p', String(live.port), 'cluster', 'nodes']);
    for (const line of stdout.split('\n')) {
      const fields = line.trim().split(' ');
      if (fields.length < 9) continue;
      const port = Number(fields[1].split('@')[0].split(':').pop());
      for (const range of fields.slice(8)) {
        const [from, to = from] = range.split('-').map(Number);
        if (slot >= from && slot <= to) return this.nodes.findIndex((n) => n.port === port);
      }
    }
    throw new Error(`no node serves slot ${slot}`);
  }

  /** Waits until every node says `cluster_state:ok` and knows every other node. */
  async waitOk(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const states = await Promise.all(
        this.nodes.map((n) =>
          run('redis-cli', ['-p', String(n.port), 'cluster', 'info']).then(
            (r) => r.stdout,
            (e: Error) => e.message,
          ),
        ),
      );
      last = states.join('\n---\n');
      if (states.every((s) => s.includes('cluster_state:ok') && s.includes(`cluster_known_nodes:${this.nodes.length}`))) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`cluster not ok in time:\n${last}`);
  }

  /**
   * A cluster client as the gateway's stores get it (server/cluster/redis.ts: node-redis, fail-fast,
   * EVAL routed by its first key), for the stores under test and for assertions; closed by stop().
   */
  async client(): Promise<TestClusterClient> {
    const client = createDataCluster(this.nodes.map((n) => `127.0.0.1:${n.port}`));
    client.on('error', () => {}); // a test that kills a node sees errors it expects
    await client.connect();
    this.clients.add(client);
    return client;
  }

  /** Runs `fn` on a plain client of every master, one after another. */
  async eachNode<T>(fn: (client: ReturnType<typeof createClient>) => Promise<T>): Promise<T[]> {
    const out: T[] = [];
    for (const n of this.nodes) {
      const client = createClient({ url: `redis://127.0.0.1:${n.port}` });
      client.on('error', () => {});
      await client.connect();
      try {
        out.push(await fn(client));
      } finally {
        await client.disconnect();
      }
    }
    return out;
  }

  /** Empties every master. */
  async flushAll(): Promise<void> {
    await this.eachNode((c) => c.flushAll());
  }

  /** Every key matching `pattern`, on every master. */
  async keys(pattern: string): Promise<string[]> {
    return (await this.eachNode((c) => c.keys(pattern))).flat();
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.clients].map((c) => c.disconnect()));
    this.clients.clear();
    await Promise.all(this.nodes.map((_, i) => this.killNode(i)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A test cluster of this file's own: started before its tests, stopped after them; a plain
 * cluster client handed to `use` once connected, and every master emptied before each test.
 */
export function useRedisCluster(options: { emptyEachTest?: boolean } = {}): { readonly cluster: TestRedisCluster; readonly client: TestClusterClient } {
  let cluster: TestRedisCluster | undefined;
  let client: TestClusterClient | undefined;
  beforeAll(async () => {
    cluster = await TestRedisCluster.start();
    client = await cluster.client();
  }, 30_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  if (options.emptyEachTest) {
    beforeEach(async () => {
      await cluster!.flushAll();
    });
  }
  return {
    get cluster() {
      if (!cluster) throw new Error('useRedisCluster(): the cluster starts in beforeAll');
      return cluster;
    },
    get client() {
      if (!client) throw new Error('useRedisCluster(): the client connects in beforeAll');
      return client;
    },
  };
}
