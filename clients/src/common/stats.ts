/** A client's connection statistics (a snapshot: read `client.stats` again for fresh numbers). */
export interface ConnectionStats {
  readonly connected: boolean;
  /** The URL of the current (or last) connection. */
  readonly url: string | null;
  /** Successful connections, the first included. */
  readonly connects: number;
  /** Successful connections after the first. */
  readonly reconnects: number;
  /** Connection attempts that failed (refused handshake, unreachable pod, closed before ready). */
  readonly failedAttempts: number;
  readonly messagesSent: number;
  /** Frames from the gateway: events, answers, errors, pongs. */
  readonly messagesReceived: number;
  /** Messages waiting in the offline queue now. */
  readonly queued: number;
  /** Messages dropped from a full offline queue, in all. */
  readonly dropped: number;
  /** The last round trip: a request's answer (Socket.IO acks) or a ping's pong (native), in ms. */
  readonly lastLatencyMs: number | null;
}

type Counters = { -readonly [K in keyof ConnectionStats]: ConnectionStats[K] };

export class StatsRecorder {
  private readonly counters: Counters = {
    connected: false,
    url: null,
    connects: 0,
    reconnects: 0,
    failedAttempts: 0,
    messagesSent: 0,
    messagesReceived: 0,
    queued: 0,
    dropped: 0,
    lastLatencyMs: null,
  };

  connected(url: string): void {
    this.counters.connected = true;
    this.counters.url = url;
    if (this.counters.connects++ > 0) this.counters.reconnects++;
  }

  disconnected(): void {
    this.counters.connected = false;
  }

  failed(): void {
    this.counters.failedAttempts++;
  }

  sent(): void {
    this.counters.messagesSent++;
  }

  received(): void {
    this.counters.messagesReceived++;
  }

  dropped(count: number): void {
    this.counters.dropped += count;
  }

  latency(ms: number): void {
    this.counters.lastLatencyMs = Math.round(ms * 10) / 10;
  }

  snapshot(queued: number): ConnectionStats {
    return Object.freeze({ ...this.counters, queued });
  }
}
