import type { Child } from './procs';

/**
 * Request/answer over IPC with forked load-generator processes: each request carries an id, the
 * worker answers `{id, result}` or `{id, error}`; a worker that exits fails what it still owed.
 * Shared by the fan-out client pool and the AI scenario's clients.
 */
export class WorkerRpc<C extends { cmd: string }> {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();

  constructor(readonly workers: Child[]) {
    for (const w of workers) {
      w.proc.on('message', (msg: { id: number; result?: unknown; error?: string }) => {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`${w.name}: ${msg.error}`));
        else p.resolve(msg.result);
      });
      void w.exited.then((code) => {
        for (const [, p] of this.pending) p.reject(new Error(`${w.name} exited (${code}): ${w.tail().slice(-500)}`));
        this.pending.clear();
      });
    }
  }

  /** Sends a command to one worker; rejects when it fails or `timeoutMs` (plus slack) passes. */
  request<T>(worker: number, command: C, timeoutMs: number): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.workers[worker].name}: ${command.cmd} got no answer in ${timeoutMs} ms`));
      }, timeoutMs + 5000);
      this.pending.set(id, {
        resolve: (r) => (clearTimeout(timer), resolve(r as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.workers[worker].proc.send({ id, command });
    });
  }
}

/** The worker side: answers each request from the harness with its command's result or error. */
export function serveCommands<C>(handle: (command: C) => Promise<unknown>): void {
  process.on('message', (msg: { id: number; command: C }) => {
    handle(msg.command).then(
      (result) => process.send?.({ id: msg.id, result }),
      (err: Error) => process.send?.({ id: msg.id, error: err.stack ?? String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
