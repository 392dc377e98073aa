/**
 * This pod's traffic counters for the stats endpoints: messages received (as a per-second rate over
 * a sliding minute) and, per client room, broadcasts sent, last activity and joins. The admin API
 * sums every pod's snapshot through the adapter's server-side requests.
 */
export interface RoomActivity {
  messages_sent: number;
  last_activity: number;
  joins: number;
  first_seen: number;
}

export interface ActivitySnapshot {
  readonly messagesPerSecond: number;
  readonly rooms: Readonly<Record<string, RoomActivity>>;
}

const WINDOW_SECONDS = 60;
const MAX_TRACKED_ROOMS = 10_000;

export class PodActivity {
  private readonly buckets = new Uint32Array(WINDOW_SECONDS);
  private bucketSecond = 0;
  private readonly rooms = new Map<string, RoomActivity>();

  constructor(private readonly now: () => number = Date.now) {}

  private advance(): number {
    const second = Math.floor(this.now() / 1000);
    if (second !== this.bucketSecond) {
      const gap = Math.min(second - this.bucketSecond, WINDOW_SECONDS);
      for (let i = 1; i <= gap; i++) this.buckets[(this.bucketSecond + i) % WINDOW_SECONDS] = 0;
      this.bucketSecond = second;
    }
    return second % WINDOW_SECONDS;
  }

  messageReceived(): void {
    this.buckets[this.advance()]++;
  }

  private room(room: string): RoomActivity {
    let r = this.rooms.get(room);
    if (!r) {
      if (this.rooms.size >= MAX_TRACKED_ROOMS) this.evictOldest();
      r = { messages_sent: 0, last_activity: this.now(), joins: 0, first_seen: this.now() };
      this.rooms.set(room, r);
    }
    return r;
  }

  private evictOldest(): void {
    let oldest: string | undefined;
    let at = Infinity;
    for (const [name, r] of this.rooms) if (r.last_activity < at) [oldest, at] = [name, r.last_activity];
    if (oldest !== undefined) this.rooms.delete(oldest);
  }

  roomMessage(room: string): void {
    const r = this.room(room);
    r.messages_sent++;
    r.last_activity = this.now();
  }

  roomJoin(room: string): void {
    const r = this.room(room);
    r.joins++;
    r.last_activity = this.now();
  }

  snapshot(): ActivitySnapshot {
    this.advance();
    let total = 0;
    for (const n of this.buckets) total += n;
    return { messagesPerSecond: total / WINDOW_SECONDS, rooms: Object.fromEntries(this.rooms) };
  }
}
