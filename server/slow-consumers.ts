import { Socket as EngineSocket } from 'engine.io';
import { ErrorCodes, GatewayError } from '../shared/errors';
import type { Config } from './config';
import { connectionInfoOf } from './connection-info';
import { closeConnection } from './disconnect';
import type { Logger } from './logger';
import type { GatewayServer, GatewaySocket } from './types';

/**
 * How often the connections that may be over the bounds are checked (a flood can add this long's
 * traffic past the hard bound): those seen queueing since (Watch.suspects).
 */
const SWEEP_MS = 250;
/** Every this many sweeps, every connection is checked, whether or not it was seen queueing (2 s). */
const FULL_SWEEP_EVERY = 8;

/** When the connection was first seen over softBytes in a row (0: it is not). */
const OVER_SINCE = Symbol('slowConsumers.overSince');
/** Whether the connection's last volatile packet was dropped (its binary attachments follow it). */
const DROPPING = Symbol('slowConsumers.dropping');

type WriteFn = EngineSocket['write'];

/**
 * What a watched engine.io server carries (under WATCH): its connections' volatile threshold and
 * the volatile packets dropped since the last sweep. Symbol.for: one hook per process, whichever
 * copy of this module installed it.
 */
const WATCH = Symbol.for('realtime-gateway.slowConsumers.watch');
/** Marks EngineSocket.prototype.write as the hook (installed once per process). */
const HOOKED = Symbol.for('realtime-gateway.slowConsumers.hooked');

interface Watch {
  readonly softBytes: number;
  dropped: number;
  /**
   * Connections seen queueing since they were last checked and found under softBytes: a write that
   * found Engine.IO's buffer not empty, or a fast-path write the kernel did not take whole
   * (watchBackedUp). Only a connection that queues can go over the bounds, so an idle one costs the
   * sweep nothing but the full pass every FULL_SWEEP_EVERY sweeps.
   */
  readonly suspects: Set<WatchedConn>;
}

/** The parts of an engine.io connection (a Socket.IO client's or the native bridge's) read here. */
interface WatchedConn {
  readyState: string;
  writeBuffer: ReadonlyArray<{ data?: unknown }>;
  transport: { socket?: { bufferedAmount?: unknown }; bufferedAmount?: unknown };
  server?: { [WATCH]?: Watch };
  write: WriteFn;
  close(discard?: boolean): unknown;
  [OVER_SINCE]?: number;
  [DROPPING]?: boolean;
}

export interface SlowConsumerMetrics {
  /** Volatile packets dropped because their connection was over softBytes (batched per sweep). */
  volatileDropped(count?: number): void;
  slowConsumerDisconnected(): void;
}

const packetBytes = (packet: { data?: unknown }): number => {
  const data = packet.data;
  if (typeof data === 'string') return data.length;
  return (data as { byteLength?: number } | undefined)?.byteLength ?? 0;
};

/**
 * Bytes the transport accepted and has not written to the kernel yet: the `ws` WebSocket's
 * bufferedAmount for engine.io's `websocket` transport (`transport.socket`) and for the native
 * bridge (`NativeTransport.bufferedAmount`); polling keeps its backlog in conn.writeBuffer (0 here).
 */
function transportBytes(transport: WatchedConn['transport']): number {
  const own = transport.bufferedAmount;
  if (typeof own === 'number') return own;
  const ws = transport.socket?.bufferedAmount;
  return typeof ws === 'number' ? ws : 0;
}

/**
 * A connection's unsent bytes: engine.io's writeBuffer (packets not yet handed to the transport,
 * each counted by its data's length) plus the transport's own backlog. Kernel buffers are not
 * seen; they are bounded by the kernel. Exported so tests measure exactly what the watcher does.
 */
export function unsentBytes(conn: object): number {
  const c = conn as WatchedConn;
  let bytes = transportBytes(c.transport);
  const buf = c.writeBuffer;
  for (let i = 0; i < buf.length; i++) bytes += packetBytes(buf[i]);
  return bytes;
}

/** Whether unsentBytes(conn) > limit, stopping as soon as it is (a slow client's buffer can be long). */
function over(conn: WatchedConn, limit: number): boolean {
  let bytes = transportBytes(conn.transport);
  if (bytes > limit) return true;
  const buf = conn.writeBuffer;
  for (let i = 0; i < buf.length; i++) {
    bytes += packetBytes(buf[i]);
    if (bytes > limit) return true;
  }
  return false;
}

/**
 * Keeps clients that stop reading from growing the pod's memory. A connection's unsent bytes
 * (see unsentBytes) above `softBytes` make its volatile packets (cursor moves) drop; above
 * `hardBytes`, or above `softBytes` for longer than `timeoutMs`, the connection is closed with
 * CONNECTION_LIMIT (native clients: 1008; Socket.IO clients see their transport close and
 * reconnect, from a clean state).
 *
 * The volatile decision is taken at write time, where socket.io hands each recipient's packet to
 * `conn.write(encoded, opts)` (`Client.writeToEngine`, after its own `!transport.writable` drop):
 * engine.io's `Socket.prototype.write` is wrapped once per process (connections keep their shape:
 * nothing is set on them per connection), which costs a property read per packet and, for volatile
 * ones only, finds the connection's server's watch and counts bytes; broadcasts to thousands stay
 * as cheap as socket.io's. Connections of an engine that is not watched write as before. The
 * bounds are checked by one unref'd sweep every 250 ms over the connections seen queueing, and
 * every 2 s over all of `io.engine.clients`: idle connections cost a pod almost nothing.
 * A slow connection is closed by discarding its engine.io buffer: engine.io's ordinary close
 * waits for that buffer to drain, which a client that does not read never lets happen.
 *
 * Returns the dispose (stops the sweep and the volatile drops of this engine's connections).
 */
export function watchSlowConsumers(deps: { io: GatewayServer; config: Config; logger: Logger; metrics: SlowConsumerMetrics }): () => void {
  const { softBytes, hardBytes, timeoutMs } = deps.config.slowConsumers;
  const { metrics } = deps;
  const log = deps.logger.child({ module: 'slow-consumers' });
  const engine = deps.io.engine as unknown as { clients: Record<string, WatchedConn>; [WATCH]?: Watch };
  hookWrite();
  const watch: Watch = { softBytes, dropped: 0, suspects: new Set() };
  const { suspects } = watch;
  let sweeps = 0;
  engine[WATCH] = watch;

  const cutOff = (conn: WatchedConn, bytes: number, why: 'bytes' | 'timeout') => {
    log.warn('slow consumer disconnected', { transport: connectionInfoOf(conn).transport, unsent_bytes: bytes, reason: why });
    metrics.slowConsumerDisconnected();
    try {
      // It does not read: what is queued for it is discarded and the connection closed now.
      const err = new GatewayError(ErrorCodes.CONNECTION_LIMIT, `Client too slow: ${bytes} bytes unsent`, { unsent_bytes: bytes });
      closeConnection(conn as unknown as GatewaySocket['conn'], err, { flushMs: 0 });
    } catch (err) {
      log.error('closing a slow consumer failed', { error: String(err) });
    }
  };

  const sweep = () => {
    if (watch.dropped > 0) {
      metrics.volatileDropped(watch.dropped);
      watch.dropped = 0;
    }
    if (++sweeps % FULL_SWEEP_EVERY === 0) {
      // Whatever queued by a way the hooks do not see is found here.
      const clients = engine.clients;
      for (const id in clients) {
        const conn = clients[id];
        if (conn.readyState !== 'closed' && (conn.writeBuffer.length > 0 || transportBytes(conn.transport) > 0)) suspects.add(conn);
      }
    }
    const now = Date.now();
    for (const conn of suspects) {
      const bytes = conn.readyState === 'closed' ? 0 : unsentBytes(conn);
      if (bytes <= softBytes) {
        // OVER_SINCE is set only on a connection that was over (no property on the others).
        if (conn[OVER_SINCE]) conn[OVER_SINCE] = 0;
        suspects.delete(conn); // back when it queues again
      } else if (bytes > hardBytes) {
        suspects.delete(conn);
        cutOff(conn, bytes, 'bytes');
      } else if (!conn[OVER_SINCE]) {
        conn[OVER_SINCE] = now;
      } else if (now - conn[OVER_SINCE] > timeoutMs) {
        suspects.delete(conn);
        cutOff(conn, bytes, 'timeout');
      }
    }
  };

  const timer = setInterval(sweep, SWEEP_MS);
  timer.unref();

  return () => {
    clearInterval(timer);
    suspects.clear();
    if (engine[WATCH] === watch) delete engine[WATCH];
    if (watch.dropped > 0) metrics.volatileDropped(watch.dropped);
    watch.dropped = 0;
  };
}

/**
 * The volatile rule for writes that bypass engine.io's `write` (server/fast-broadcast.ts): true,
 * and counted, when the connection's server is watched and its unsent bytes are over softBytes.
 */
export function dropVolatile(conn: object): boolean {
  const c = conn as WatchedConn;
  const watch = c.server?.[WATCH];
  if (!watch || !over(c, watch.softBytes)) return false;
  watch.dropped++;
  return true;
}

/**
 * For writes that bypass engine.io (server/fast-broadcast.ts): the connection's socket kept part of
 * a write (the kernel took less), so the sweep checks it from now on.
 */
export function watchBackedUp(conn: object): void {
  const c = conn as WatchedConn;
  c.server?.[WATCH]?.suspects.add(c);
}

/**
 * Wraps engine.io's Socket.prototype.write, once per process: a volatile packet to a connection
 * whose server is watched and which is over its softBytes is dropped (with the binary attachments
 * that follow it); everything else goes to engine.io's write. A write that finds engine.io's
 * buffer not empty (the transport is still busy with what was sent before) makes the connection
 * one the sweep checks.
 */
function hookWrite(): void {
  const proto = EngineSocket.prototype as unknown as { write: WriteFn & { [HOOKED]?: true } };
  if (proto.write[HOOKED]) return;
  const protoWrite = proto.write;
  const write = function (this: WatchedConn, data, options, callback) {
    if ((options as { volatile?: boolean } | undefined)?.volatile) {
      const watch = this.server?.[WATCH];
      if (watch) {
        // A binary event is a string packet and its attachments, written in a row with the same
        // options: the attachments share the string's fate, or the client would decode garbage.
        const drop = typeof data === 'string' ? (this[DROPPING] = over(this, watch.softBytes)) : this[DROPPING];
        if (drop) {
          if (typeof data === 'string') watch.dropped++; // one per event, not per attachment
          return this;
        }
      }
    }
    if (this.writeBuffer.length > 0) this.server?.[WATCH]?.suspects.add(this);
    return protoWrite.call(this, data, options, callback);
  } as WriteFn & { [HOOKED]?: true };
  write[HOOKED] = true;
  proto.write = write;
}
