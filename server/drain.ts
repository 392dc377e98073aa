import type { Server as NetServer, Socket } from 'node:net';
import type { Logger } from './logger';

/** How often a stopping pod closes its next slice of connections. */
export const DRAIN_INTERVAL_MS = 100;

/** What the drain needs of a connection (engine.io's Socket, native connections included). */
export interface DrainableConnection {
  readonly readyState: string;
  once(event: 'close', listener: () => void): unknown;
}

export interface ConnectionDrainOptions<C extends DrainableConnection> {
  /** The pod's connections now, oldest first (engine.io's registry). */
  readonly connections: () => Iterable<C>;
  /** Closes one connection so that its client reconnects, to another pod. */
  readonly close: (conn: C) => void;
  /** The window the closes are spread over (DRAIN_MS); 0 closes every connection at once. */
  readonly drainMs: number;
  /**
   * After the last slice, how long to wait for the closed connections to report closed (their
   * close may wait for a write buffer to flush) before resolving anyway.
   */
  readonly settleMs: number;
  readonly logger: Logger;
  readonly intervalMs?: number;
}

export interface DrainSummary {
  /** Connections open when the drain began. */
  readonly connections: number;
  /** Connections the drain closed (the others left by themselves meanwhile). */
  readonly closed: number;
  /** Largest slice closed at one time. */
  readonly slice: number;
  /** Connections that had not reported closed when the drain gave up waiting. */
  readonly unsettled: number;
  readonly elapsedMs: number;
}

/**
 * Closes a stopping pod's connections spread over `drainMs`, so that the pods that stay see a
 * bounded reconnect rate instead of every client at once. Of the N connections open when it
 * begins, every `intervalMs` (DRAIN_INTERVAL_MS) it closes a slice of ceil(N × intervalMs /
 * drainMs), at least one: the first at once, the last by `drainMs − intervalMs` (sooner when N is
 * below drainMs / intervalMs: one connection per interval). The schedule follows the clock: a
 * timer that fires late closes the slices it missed, so the drain never outlasts `drainMs` by more
 * than one late tick, and by then every connection left is closed. Connections opened meanwhile
 * (the caller refuses new ones) are closed too. Resolves once every connection it closed reported
 * closed, or `settleMs` after the last slice.
 */
export function drainConnections<C extends DrainableConnection>(options: ConnectionDrainOptions<C>): Promise<DrainSummary> {
  const log = options.logger.child({ module: 'drain' });
  const intervalMs = Math.max(1, options.intervalMs ?? DRAIN_INTERVAL_MS);
  const startedAt = Date.now();
  const isOpen = (conn: C) => conn.readyState === 'open' || conn.readyState === 'opening';
  const total = count(options.connections(), isOpen);
  const closing = new Set<C>();
  const slice = options.drainMs > 0 ? Math.max(1, Math.ceil((total * intervalMs) / options.drainMs)) : total;
  let closed = 0;
  let largest = 0;

  log.info('draining connections', { connections: total, drain_ms: options.drainMs, slice, interval_ms: intervalMs });

  return new Promise<DrainSummary>((resolve) => {
    let ticker: NodeJS.Timeout | undefined;
    let settleTimer: NodeJS.Timeout | undefined;
    let finishing = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(ticker);
      clearTimeout(settleTimer);
      const summary: DrainSummary = { connections: total, closed, slice: largest, unsettled: closing.size, elapsedMs: Date.now() - startedAt };
      if (closing.size) log.warn('connections still closing after the drain', { connections: closing.size });
      log.info('connections drained', { ...summary });
      resolve(summary);
    };
    const settled = () => {
      if (finishing && closing.size === 0) finish();
    };
    const closeSome = (limit: number): number => {
      let n = 0;
      for (const conn of options.connections()) {
        if (n >= limit) break;
        if (!isOpen(conn) || closing.has(conn)) continue;
        closing.add(conn);
        // Listened to before closing: engine.io reports an unbuffered close synchronously.
        conn.once('close', () => {
          closing.delete(conn);
          settled();
        });
        try {
          options.close(conn);
        } catch (err) {
          log.warn('closing a connection failed', { error: String(err) });
        }
        n++;
      }
      closed += n;
      largest = Math.max(largest, n);
      return n;
    };
    const tick = () => {
      const elapsed = Date.now() - startedAt;
      // The slices due by now, the one of this tick included; the last tick closes whatever is left.
      const due = slice * (Math.floor(elapsed / intervalMs) + 1);
      const last = elapsed + intervalMs >= options.drainMs;
      closeSome(last ? Infinity : Math.max(0, due - closed));
      if (!last && count(options.connections(), (c) => isOpen(c) && !closing.has(c)) > 0) return;
      clearInterval(ticker);
      finishing = true;
      if (closing.size === 0) return finish();
      settleTimer = setTimeout(finish, options.settleMs);
      settleTimer.unref();
    };
    tick();
    if (finishing) return;
    ticker = setInterval(tick, intervalMs);
    ticker.unref();
  });
}

function count<C>(items: Iterable<C>, match: (item: C) => boolean): number {
  let n = 0;
  for (const item of items) if (match(item)) n++;
  return n;
}

/**
 * Tracks a server's TCP connections, upgraded WebSockets included, so that a stop can cut the ones
 * still open after a grace period: a client that never answers a WebSocket closing handshake would
 * otherwise hold the server's close for `ws`'s 30 s close timeout, past the stop's deadline.
 */
export class ConnectionTracker {
  private readonly sockets = new Set<Socket>();

  constructor(server: NetServer) {
    const sockets = this.sockets;
    // One listener function for every socket (no closure per connection); `close` is emitted once.
    function forget(this: Socket) {
      sockets.delete(this);
    }
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', forget);
    });
  }

  get size(): number {
    return this.sockets.size;
  }

  /** Resolves with `closed`, or after `graceMs` cuts every connection left and then waits for it. */
  async closeWithin<T>(closed: Promise<T>, graceMs: number, log: Logger): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), graceMs);
      timer.unref();
    });
    const first = await Promise.race([closed.then(() => 'closed' as const), late]);
    clearTimeout(timer);
    if (first === 'late' && this.sockets.size) {
      log.warn('cutting connections that did not finish closing', { connections: this.sockets.size, grace_ms: graceMs });
      for (const socket of this.sockets) socket.destroy();
    }
    return closed;
  }
}
