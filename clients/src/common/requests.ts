import { ClientError } from './errors';

/** How a protocol answers a request of a message type. */
export type Answering =
  /** One answer carrying the request's correlation id (a Socket.IO ack, seed 001's correlation_id, seed 002's request_id). */
  | { readonly by: 'correlation' }
  /** The server event the type's result travels as (seed 002's sheet_state, history, ...), in order. */
  | { readonly by: 'event'; readonly event: string }
  /** Nothing answers success: only `send` it and listen for the events it causes. */
  | { readonly by: 'none' };

interface Pending {
  readonly type: string;
  /** The server event that answers it, for dialects that answer by event rather than by correlation id. */
  readonly expects?: string;
  readonly started: number;
  /** Sent: awaiting its answer on the live connection. Not sent: waiting in the offline queue. */
  sent: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * Requests awaiting their answer, by correlation id: each has a timeout that runs from the call,
 * queued time included. A request sent on a connection that then drops is rejected DISCONNECTED
 * (the gateway may or may not have served it); one still queued waits for the next connection.
 */
export class PendingRequests {
  private readonly pending = new Map<string, Pending>();
  private next = 0;

  constructor(private readonly onTimeout: (id: string) => void) {}

  get size(): number {
    return this.pending.size;
  }

  /** Registers a request; the id is the correlation id to send with it. */
  add<T>(type: string, timeoutMs: number, expects?: string): { id: string; promise: Promise<T> } {
    const id = `c${++this.next}-${Math.random().toString(36).slice(2, 8)}`;
    const promise = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.onTimeout(id);
        reject(new ClientError('TIMEOUT', `No answer to ${type} within ${timeoutMs} ms`, type));
      }, timeoutMs);
      this.pending.set(id, { type, expects, started: now(), sent: false, resolve: resolve as (v: unknown) => void, reject, timer });
    });
    return { id, promise };
  }

  has(id: string): boolean {
    return this.pending.has(id);
  }

  markSent(id: string): void {
    const p = this.pending.get(id);
    if (p) p.sent = true;
  }

  /** The oldest sent request answered by server event `event` (answers come in order). */
  oldestExpecting(event: string): string | undefined {
    for (const [id, p] of this.pending) if (p.sent && p.expects === event) return id;
    return undefined;
  }

  /** The oldest sent request of message type `type` answered by an event: an error naming the type is its answer. */
  oldestUncorrelated(type: string): string | undefined {
    for (const [id, p] of this.pending) if (p.sent && p.expects !== undefined && p.type === type) return id;
    return undefined;
  }

  /** Resolves a request; returns its round trip in ms (undefined when it was not pending). */
  resolve(id: string, value: unknown): number | undefined {
    const p = this.take(id);
    p?.resolve(value);
    return p ? now() - p.started : undefined;
  }

  reject(id: string, error: Error): boolean {
    const p = this.take(id);
    p?.reject(error);
    return p !== undefined;
  }

  /** Rejects the requests sent on a connection that was lost. */
  rejectSent(message: string): void {
    for (const [id, p] of this.pending) if (p.sent) this.reject(id, new ClientError('DISCONNECTED', `${message}: ${p.type} may or may not have been served`, p.type));
  }

  rejectAll(error: (type: string) => Error): void {
    for (const [id, p] of this.pending) this.reject(id, error(p.type));
  }

  private take(id: string): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    clearTimeout(p.timer);
    this.pending.delete(id);
    return p;
  }
}
