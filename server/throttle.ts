/**
 * Per-key leading-and-trailing throttle: the first call for a key runs at once; calls within the
 * following interval only replace the pending run, which fires once when the interval ends (so
 * the latest value always goes out, and at most one run per key per interval). A key holds state
 * only while it is active.
 */
export class KeyedThrottle<K> {
  private readonly active = new Map<K, { timer: NodeJS.Timeout; pending?: () => unknown }>();

  constructor(private readonly intervalMs: number) {}

  schedule(key: K, run: () => unknown): void {
    const state = this.active.get(key);
    if (state) {
      state.pending = run;
      return;
    }
    this.start(key);
    run();
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
      pending();
    }
  }

  /** Drops a key's pending run (its owner is gone). */
  cancel(key: K): void {
    const state = this.active.get(key);
    if (!state) return;
    clearTimeout(state.timer);
    this.active.delete(key);
  }

  /** Runs every pending run now and forgets all keys (shutdown); resolves when they have settled. */
  async flush(): Promise<void> {
    const pending = [...this.active.values()].flatMap((s) => {
      clearTimeout(s.timer);
      return s.pending ? [s.pending] : [];
    });
    this.active.clear();
    await Promise.allSettled(pending.map((run) => run()));
  }

  get size(): number {
    return this.active.size;
  }
}
