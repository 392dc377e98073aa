/**
 * A fixed-window counter for one connection's budget: synchronous and allocation-free, because it
 * runs on every message of every connection (a connection lives on one pod, so no shared store is
 * needed; the cluster-wide budgets use rate-limiter-flexible in server/cluster/limits.ts).
 */
export class WindowCounter {
  private count = 0;
  private windowEnd = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Counts one event: 0 when within the budget, else the milliseconds until the window ends. */
  take(now: number): number {
    if (now >= this.windowEnd) {
      this.windowEnd = now + this.windowMs;
      this.count = 0;
    }
    if (this.count >= this.limit) return this.windowEnd - now;
    this.count++;
    return 0;
  }
}
