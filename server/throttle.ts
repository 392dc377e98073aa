/**
 * Per-key leading-and-trailing throttle: the first call for a key runs at once; calls within the
 * following interval only replace the pending run, which fires once when the interval ends (so
 * the latest value always goes out, and at most one run per key per interval). A key holds state
 * only while it is active. Runs may be async: flush() waits for the ones under way.
 */
export class KeyedThrottle<K> {
  private readonly active = new Map<K, { timer: NodeJS.Timeout; pending?: () => unknown }>();
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly intervalMs: number) {}

  schedule(key: K, run: () => unknown): void {
    if (this.closed) return;
    const state = this.active.get(key);
    if (state) {
      state.pending = run;
      return;
    }
    this.start(key);
    this.execute(run);
  }

  private execute(run: () => unknown): void {
    const result = run();
    if (result instanceof Promise) {
      const settled = result.catch(() => undefined).finally(() => this.running.delete(settled));
      this.running.add(settled);
    }
  }

  private start(key: K): void {
    const timer = setTimeout(() => this.expire(key), this.intervalMs);
    timer.unref();
    this.active.set(key, { timer });
  }

  private expire(key: K): void {
    const pending = this.active.get(key)?.pending;
    this.active.delete(key);
    if (pending) {
      this.start(key);
      this.execute(pending);
    }
  }

  /** Drops a key's pending run (its owner is gone). */
  cancel(key: K): void {
    const state = this.active.get(key);
    if (!state) return;
    clearTimeout(state.timer);
    this.active.delete(key);
  }

  /**
   * Shutdown: runs every pending run now, waits for all runs under way, and accepts no more.
   */
  async flush(): Promise<void> {
    this.closed = true;
    for (const state of this.active.values()) {
      clearTimeout(state.timer);
      if (state.pending) this.execute(state.pending);
    }
    this.active.clear();
    while (this.running.size) await Promise.allSettled([...this.running]);
  }
}
