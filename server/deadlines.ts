/**
 * Items that fall due at a time, all served by one interval timer: many thousands of connections
 * each with a token expiry would otherwise hold two timers apiece (a Timeout object and a closure
 * each, most of the per-connection memory the feature cost). Due items are handed out within one
 * tick after their time, in tick order. An item is due once at a time; a small tag (0..3) given
 * with its time comes back with it (e.g. which of an item's deadlines is due), without a second
 * entry per item.
 */
const TAGS = 4;

export class Deadlines<T> {
  private readonly buckets = new Map<number, Set<T>>();
  /** Per item: (its slot - origin) * TAGS + its tag (a small integer: no heap number per item). */
  private readonly slots = new Map<T, number>();
  private readonly timer: NodeJS.Timeout;
  private processed: number;
  private readonly origin: number;

  constructor(
    private readonly tickMs: number,
    private readonly onDue: (item: T, tag: number) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.processed = Math.floor(this.now() / tickMs);
    this.origin = this.processed;
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
  }

  /** (Re)schedules an item for `at` (ms since the epoch), with a tag (0..3) handed back when it is due. */
  set(item: T, at: number, tag = 0): void {
    this.delete(item);
    const slot = Math.max(Math.ceil(at / this.tickMs), this.processed + 1);
    let bucket = this.buckets.get(slot);
    if (!bucket) this.buckets.set(slot, (bucket = new Set()));
    bucket.add(item);
    this.slots.set(item, (slot - this.origin) * TAGS + (tag & (TAGS - 1)));
  }

  delete(item: T): void {
    const tagged = this.slots.get(item);
    if (tagged === undefined) return;
    this.slots.delete(item);
    const slot = this.origin + Math.floor(tagged / TAGS);
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
        const tagged = this.slots.get(item)!;
        this.slots.delete(item);
        this.onDue(item, tagged % TAGS);
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.buckets.clear();
    this.slots.clear();
  }
}
