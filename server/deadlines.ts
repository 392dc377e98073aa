/**
 * Items that fall due at a time, all served by one interval timer: many thousands of connections
 * each with a token expiry would otherwise hold two timers apiece (a Timeout object and a closure
 * each, most of the per-connection memory the feature cost). Due items are handed out within one
 * tick after their time, in tick order.
 */
export class Deadlines<T> {
  private readonly buckets = new Map<number, Set<T>>();
  private readonly slots = new Map<T, number>();
  private readonly timer: NodeJS.Timeout;
  private processed: number;

  constructor(
    private readonly tickMs: number,
    private readonly onDue: (item: T) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.processed = Math.floor(this.now() / tickMs);
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
  }

  /** (Re)schedules an item for `at` (ms since the epoch). */
  set(item: T, at: number): void {
    this.delete(item);
    const slot = Math.max(Math.ceil(at / this.tickMs), this.processed + 1);
    let bucket = this.buckets.get(slot);
    if (!bucket) this.buckets.set(slot, (bucket = new Set()));
    bucket.add(item);
    this.slots.set(item, slot);
  }

  delete(item: T): void {
    const slot = this.slots.get(item);
    if (slot === undefined) return;
    this.slots.delete(item);
    const bucket = this.buckets.get(slot);
    bucket?.delete(item);
    if (bucket?.size === 0) this.buckets.delete(slot);
  }

  get size(): number {
    return this.slots.size;
  }

  private tick(): void {
    const current = Math.floor(this.now() / this.tickMs);
    while (this.processed < current) {
      const slot = ++this.processed;
      const bucket = this.buckets.get(slot);
      if (!bucket) continue;
      this.buckets.delete(slot);
      for (const item of bucket) {
        this.slots.delete(item);
        this.onDue(item);
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.buckets.clear();
    this.slots.clear();
  }
}
