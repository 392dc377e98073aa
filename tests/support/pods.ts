import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { testEnv } from './gateway';
import { freePort } from './redis';

const ENTRY = join(__dirname, '..', '..', 'dist', 'server', 'index.js');

/** A gateway pod in its own process (built code, as it ships), so a test can SIGKILL it. */
export class PodProcess {
  private output = '';
  private constructor(
    readonly port: number,
    private readonly proc: ChildProcess,
  ) {
    proc.stdout!.on('data', (c: Buffer) => (this.output += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (this.output += c.toString()));
  }

  static async start(env: Record<string, string | undefined>): Promise<PodProcess> {
    if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run \`npm run build\` (npm test does it first)`);
    const port = await freePort();
    const proc = spawn(process.execPath, [ENTRY], {
      env: { PATH: process.env.PATH, ...testEnv({ LOG_LEVEL: 'warn', ...env, PORT: String(port) }) } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pod = new PodProcess(port, proc);
    running.add(pod);
    await pod.ready();
    return pod;
  }

  /** The pod's process id (its main thread's too). */
  get pid(): number {
    return this.proc.pid!;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get logs(): string {
    return this.output;
  }

  get exited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  private async ready(deadline = Date.now() + 15_000): Promise<void> {
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`pod exited during start-up:\n${this.output}`);
      const ok = await fetch(`${this.url}/readyz`).then((r) => r.ok, () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`pod not ready in time:\n${this.output}`);
  }

  /** Sends a signal and resolves with the exit code (null when killed by the signal). */
  async signal(sig: NodeJS.Signals): Promise<number | null> {
    running.delete(this);
    if (this.exited) return this.proc.exitCode;
    const exit = once(this.proc, 'exit') as Promise<[number | null]>;
    this.proc.kill(sig);
    const [code] = await exit;
    return code;
  }
}

const running = new Set<PodProcess>();

/** Kills every pod a test left running. */
export async function killPods(): Promise<void> {
  await Promise.all([...running].map((p) => p.signal('SIGKILL')));
}
