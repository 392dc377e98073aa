/** One message waiting for a connection. */
export interface QueuedMessage {
  readonly type: string;
  readonly payload: unknown;
  /** A volatile message (a cursor move) is superseded by the next one: it is dropped first. */
  readonly volatile: boolean;
  /** The request awaiting this message's answer, if any. */
  readonly requestId?: string;
  /** Whether the request's id travels with the message as its correlation id (native dialects). */
  readonly correlated?: boolean;
}

/**
 * The bounded queue of messages sent while disconnected, flushed in order on reconnect. When it
 * is full the oldest volatile message goes first (a newly queued volatile one included), then the
 * oldest message. Capacity 0 keeps nothing.
 */
export class OutboundQueue {
  private items: QueuedMessage[] = [];

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.items.length;
  }

  /** Queues a message; returns the messages dropped to make room (possibly the message itself). */
  push(message: QueuedMessage): QueuedMessage[] {
    this.items.push(message);
    const dropped: QueuedMessage[] = [];
    while (this.items.length > this.capacity) {
      const volatileAt = this.items.findIndex((m) => m.volatile);
      dropped.push(...this.items.splice(volatileAt === -1 ? 0 : volatileAt, 1));
    }
    return dropped;
  }

  /** Removes a request's message (its request timed out while queued). */
  removeRequest(requestId: string): void {
    this.items = this.items.filter((m) => m.requestId !== requestId);
  }

  /** Takes every message, oldest first. */
  drain(): QueuedMessage[] {
    const items = this.items;
    this.items = [];
    return items;
  }
}
