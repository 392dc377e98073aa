import WebSocket from 'ws';
import type { Child } from './procs';
import { waitUntil } from './procs';

/**
 * A minimal client for the V8 inspector of a server started with `--inspect=127.0.0.1:0` (memory
 * scenario only): a full GC before each RSS sample, and the JS heap in use, for every server alike
 * and without any endpoint in the product.
 */
export class Inspector {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
      const p = msg.id === undefined ? undefined : this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id!);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result);
    });
    ws.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('inspector closed'));
      this.pending.clear();
    });
  }

  /** Reads the inspector URL the child printed on stderr and connects to it. */
  static async attach(child: Child): Promise<Inspector> {
    let url = '';
    await waitUntil(`${child.name} inspector`, async () => {
      url = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)/.exec(child.tail())?.[1] ?? '';
      return url !== '';
    }, 10_000);
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Inspector(ws);
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`inspector ${method} timed out`));
      }, 30_000);
      this.pending.set(id, {
        resolve: (r) => (clearTimeout(timer), resolve(r as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async gc(): Promise<void> {
    await this.call('HeapProfiler.collectGarbage');
  }

  async heapUsed(): Promise<number> {
    return (await this.call<{ usedSize: number }>('Runtime.getHeapUsage')).usedSize;
  }

  close(): void {
    this.ws.terminate();
  }
}
