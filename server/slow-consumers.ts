import { Socket as EngineSocket } from 'engine.io';
import { ErrorCodes, GatewayError } from '../shared/errors';
import type { Config } from './config';
import { connectionInfoOf } from './connection-info';
import { closeConnection } from './disconnect';
import type { Logger } from './logger';
import type { GatewayServer, GatewaySocket } from './types';

/** How often the hard bound and the timeout are checked (a flood can add this long's traffic past the bound). */
const SWEEP_MS = 500;

/** When the connection was first seen over softBytes in a row (0: it is not). */
const OVER_SINCE = Symbol('slowConsumers.overSince');
/** Whether the connection's last volatile packet was dropped (its binary attachments follow it). */
const DROPPING = Symbol('slowConsumers.dropping');

type WriteFn = EngineSocket['write'];

/** The parts of an engine.io connection (a Socket.IO client's or the native bridge's) read here. */
interface WatchedConn {
  readyState: string;
  writeBuffer: ReadonlyArray<{ data?: unknown }>;
  transport: { socket?: { bufferedAmount?: unknown }; bufferedAmount?: unknown };
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
 * every connection gets one shared function as its own `write`, which costs a property read per
 * packet and counts bytes only for volatile ones; broadcasts to thousands stay as cheap as
 * socket.io's. The bounds are checked by one unref'd sweep over `io.engine.clients` every 500 ms.
 * A slow connection is closed by discarding its engine.io buffer: engine.io's ordinary close
 * waits for that buffer to drain, which a client that does not read never lets happen.
 *
 * Returns the dispose (stops the sweep, gives connections their own `write` back).
 */
export function watchSlowConsumers(deps: { io: GatewayServer; config: Config; logger: Logger; metrics: SlowConsumerMetrics }): () => void {
  const { softBytes, hardBytes, timeoutMs } = deps.config.slowConsumers;
  const { metrics } = deps;
  const log = deps.logger.child({ module: 'slow-consumers' });
  const engine = deps.io.engine as unknown as {
    clients: Record<string, WatchedConn>;
    on(event: 'connection', fn: (conn: WatchedConn) => void): unknown;
    off(event: 'connection', fn: (conn: WatchedConn) => void): unknown;
  };
  const protoWrite: WriteFn = EngineSocket.prototype.write;
  let dropped = 0;

  const write = function (this: WatchedConn, data, options, callback) {
    if ((options as { volatile?: boolean } | undefined)?.volatile) {
      // A binary event is a string packet and its attachments, written in a row with the same
      // options: the attachments share the string's fate, or the client would decode garbage.
      const drop = typeof data === 'string' ? (this[DROPPING] = over(this, softBytes)) : this[DROPPING];
      if (drop) {
        if (typeof data === 'string') dropped++; // one per event, not per attachment
        return this;
      }
    }
    return protoWrite.call(this, data, options, callback);
  } as WriteFn;

  const install = (conn: WatchedConn) => {
    conn[OVER_SINCE] = 0;
    conn[DROPPING] = false;
    conn.write = write;
  };

  const cutOff = (conn: WatchedConn, bytes: number, why: 'bytes' | 'timeout') => {
    log.warn('slow consumer disconnected', { transport: connectionInfoOf(conn).transport, unsent_bytes: bytes, reason: why });
    metrics.slowConsumerDisconnected();
    try {
      closeConnection(conn as unknown as GatewaySocket['conn'], new GatewayError(ErrorCodes.CONNECTION_LIMIT, `Client too slow: ${bytes} bytes unsent`, { unsent_bytes: bytes }));
    } catch (err) {
      log.error('closing a slow consumer failed', { error: String(err) });
    }
    // closeConnection's close waits for the writeBuffer to drain, which a client that does not
    // read never lets happen: discarding closes now (a native close code is chosen by then).
    if (conn.readyState !== 'closed') conn.close(true);
  };

  const sweep = () => {
    if (dropped > 0) {
      metrics.volatileDropped(dropped);
      dropped = 0;
    }
    const now = Date.now();
    const clients = engine.clients;
    for (const id in clients) {
      const conn = clients[id];
      if (conn.readyState === 'closed') continue;
      if (conn.writeBuffer.length === 0 && transportBytes(conn.transport) <= softBytes) {
        conn[OVER_SINCE] = 0;
        continue;
      }
      const bytes = unsentBytes(conn);
      if (bytes <= softBytes) {
        conn[OVER_SINCE] = 0;
      } else if (bytes > hardBytes) {
        cutOff(conn, bytes, 'bytes');
      } else if (!conn[OVER_SINCE]) {
        conn[OVER_SINCE] = now;
      } else if (now - conn[OVER_SINCE] > timeoutMs) {
        cutOff(conn, bytes, 'timeout');
      }
    }
  };

  for (const id in engine.clients) install(engine.clients[id]);
  engine.on('connection', install);
  const timer = setInterval(sweep, SWEEP_MS);
  timer.unref();

  return () => {
    clearInterval(timer);
    engine.off('connection', install);
    if (dropped > 0) metrics.volatileDropped(dropped);
    dropped = 0;
    for (const id in engine.clients) {
      const conn = engine.clients[id];
      if (conn.write === write) delete (conn as Partial<WatchedConn>).write;
    }
  };
}
