import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createClient } from 'redis';
import { freePort } from '../../bench/lib/ports';

/** A free TCP port on 127.0.0.1, below the kernel's range for client sockets (bench/lib/ports.ts). */
export { freePort };

/**
 * A redis-server of the test's own, on a free port, with no persistence. It can be stopped and
 * started again on the same port (the restart tests).
 */
export class TestRedis {
  private proc?: ChildProcess;
  private readonly clients = new Set<ReturnType<typeof createClient>>();
  private constructor(readonly port: number) {}

  static async start(): Promise<TestRedis> {
    const redis = new TestRedis(await freePort());
    await redis.startProcess();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async startProcess(): Promise<void> {
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    await redisServerReady(proc, 'redis-server');
  }

  /** Kills the server (SIGKILL: no goodbye to clients) and waits for it to be gone. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGKILL');
    await once(proc, 'exit');
    this.proc = undefined;
  }

  /** A plain client for assertions on the stored state; closed by stop(). */
  async client() {
    const client = createClient({ url: this.url });
    client.on('error', () => {}); // a test that kills the server sees errors it expects
    await client.connect();
    this.clients.add(client);
    return client;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.clients].map((c) => c.disconnect()));
    this.clients.clear();
    await this.kill();
  }
}

/** Resolves once a spawned redis-server says it accepts connections; rejects if it exits first or after 10 s. */
export async function redisServerReady(proc: ChildProcess, what: string): Promise<void> {
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${output}`)), 10_000);
    proc.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}: ${output}`));
    });
  });
  proc.removeAllListeners('exit');
}
