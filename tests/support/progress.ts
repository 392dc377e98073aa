/**
 * Event-driven waits for conditions that no single event announces: whoever changes the state
 * calls `notify()`, and `until` re-checks its condition then (no polling, no sleeps).
 */
export class Progress {
  private readonly waiters = new Set<() => void>();

  notify(): void {
    for (const check of [...this.waiters]) check();
  }

  /** Resolves once `condition` holds, re-checked at every notify; rejects after `timeoutMs`. */
  until(condition: () => boolean, timeoutMs: number, what: string, detail: () => string = () => ''): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what} ${detail()}`.trimEnd()));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }
}
