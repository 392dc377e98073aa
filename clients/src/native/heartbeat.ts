export interface HeartbeatOptions {
  /** How often to ping (25 s). */
  readonly intervalMs: number;
  /** A connection silent this long after a ping is dead (20 s). */
  readonly timeoutMs: number;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * Liveness of a native connection: a JSON ping every `intervalMs`; any frame from the gateway
 * proves it alive; none within `timeoutMs` of a ping means the link is dead (a pod frozen, a
 * network partition that no TCP close announces), and the client drops it and reconnects.
 */
export class Heartbeat {
  private interval?: ReturnType<typeof setInterval>;
  private deadline?: ReturnType<typeof setTimeout>;
  private pingAt?: number;

  constructor(
    private readonly options: HeartbeatOptions,
    private readonly ping: () => void,
    private readonly dead: () => void,
    private readonly roundTrip: (ms: number) => void,
  ) {}

  start(): void {
    this.stop();
    this.interval = setInterval(() => {
      this.pinged();
      this.ping();
      this.deadline ??= setTimeout(() => {
        this.stop();
        this.dead();
      }, this.options.timeoutMs);
    }, this.options.intervalMs);
  }

  /** A ping went out (the interval's, or a handshake's): its pong measures the round trip. */
  pinged(): void {
    this.pingAt ??= now();
  }

  /** A frame arrived. */
  alive(): void {
    clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  /** The answer to a ping arrived: the round trip since the oldest unanswered ping. */
  pong(): void {
    if (this.pingAt !== undefined) this.roundTrip(now() - this.pingAt);
    this.pingAt = undefined;
  }

  stop(): void {
    clearInterval(this.interval);
    clearTimeout(this.deadline);
    this.interval = undefined;
    this.deadline = undefined;
    this.pingAt = undefined;
  }
}
