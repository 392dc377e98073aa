import type { Socket as NetSocket } from 'node:net';
import { Adapter, type BroadcastOptions } from 'socket.io-adapter';
import { Socket as EngineSocket } from 'engine.io';
import type { Server, Socket } from 'socket.io';
import WebSocket from 'ws';
import type { Logger } from './logger';

/**
 * Room broadcasts written with one write per recipient socket for everything queued to it
 * (FAST_BROADCAST, on by default).
 *
 * Every adapter (in-memory, Redis) delivers a broadcast on its pod through the base Adapter's
 * `broadcast` / `broadcastWithAck`, which encode the packet once (and, socket.io-adapter 2.5 does
 * this, build its WebSocket frame once) and then, per recipient, hand it to Engine.IO: a packet
 * object, several EventEmitter emits, the write buffer, the transport, ws's cork/write/uncork and a
 * write callback; two broadcasts to the same socket in one tick are two writes. Here, per recipient,
 * acks and outgoing listeners are kept exactly as socket.io does, and then a recipient on the plain
 * WebSocket transport whose Engine.IO write buffer and ws sender are empty gets the prebuilt frame
 * appended to its pending batch; a `process.nextTick` starts writing the batches, each with one
 * write, a slice per turn of the event loop (BATCHES_PER_TURN), and after each batch lets
 * Engine.IO flush whatever it was asked to send meanwhile (a direct emit, a ping), behind it.
 * Native dialect clients join the same batches with their dialect's frame, built once per
 * broadcast and dialect (`FAST_WIRE`). Anything else (polling, an upgrade under way, a
 * busy socket, binary, permessage-deflate) takes socket.io's own path, behind anything already queued,
 * so the order of what one socket receives never changes. Volatile packets are dropped only under
 * real back-pressure (the slow-consumer bound, MAX_BUFFERED_BYTES), not because a write is in flight.
 *
 * It relies on private fields of engine.io 6.6 (`writeBuffer`, `upgrading`, `transport.socket`)
 * and ws 8 (`_socket`; `_sender._state`, `_sender._queue` for a native connection that deflates), pinned in package.json and checked at
 * start-up (`fastBroadcastProblems`): when they are not as expected the gateway warns and keeps
 * socket.io's path. The patch is on the base Adapter's prototype, once per process (`broadcast` as
 * an accessor, which socket.io's Server#close cannot put back: see patchAdapter); each server opts
 * in (`enableFastBroadcast`), so servers that did not keep the original path.
 */

const ENABLED = Symbol.for('realtime-gateway.fastBroadcast.enabled');
const PATCHED = Symbol.for('realtime-gateway.fastBroadcast.patched');

/** ws's Sender state when it is not deflating or reading a Blob (lib/sender.js `DEFAULT`). */
const SENDER_IDLE = 0;
const WS_OPEN = 1;

export interface WsLike {
  readyState: number;
  _socket?: NetSocket;
  _sender?: { _state?: number; _queue?: unknown[] };
}

/**
 * A transport that frames broadcasts itself (the native dialects' bridge, server/compat/transport.ts):
 * its wire bytes for an encoded Socket.IO packet and the socket to write them to, `null` when the
 * client gets nothing of this packet, `undefined` when it cannot be written now (then socket.io's
 * path runs). Called at most once per recipient and packet.
 */
export const FAST_WIRE = Symbol.for('realtime-gateway.fastBroadcast.wire');
export type FastWire = (encoded: string, options: object) => { readonly socket: NetSocket; readonly wire: Buffer } | null | undefined;

/** A connection's frames not yet written (one, or several in order), on the connection itself, and the socket they go to. */
const FRAMES = Symbol('realtime-gateway.fastBroadcast.frames');
const FRAMES_SOCKET = Symbol('realtime-gateway.fastBroadcast.framesSocket');

interface EngineConn {
  readyState: string;
  upgrading: boolean;
  writeBuffer: unknown[];
  transport: { name: string; perMessageDeflate?: unknown; socket?: WsLike; [FAST_WIRE]?: FastWire };
  flush(): void;
  /** Its engine.io server, carrying the fast path's options of its Socket.IO server (enableFastBroadcast). */
  server: { [ENABLED]?: FastOptions };
  [FRAMES]?: Buffer | Buffer[];
  [FRAMES_SOCKET]?: NetSocket;
}

interface RecipientSocket {
  client: { conn: EngineConn; writeToEngine(packets: unknown[], opts: unknown): void };
  acks: Map<number, unknown>;
  notifyOutgoingListeners?: (packet: unknown) => void;
  _anyOutgoingListeners?: unknown[];
}

interface AdapterInternals {
  rooms: Map<string, Set<string>>;
  sids: Map<string, Set<string>>;
  nsp: { name: string; server: { [ENABLED]?: FastOptions }; _ids: number; sockets: Map<string, RecipientSocket> };
  _encode(packet: unknown, opts: PacketOptions): unknown[];
  apply(opts: BroadcastOptions, callback: (socket: RecipientSocket) => void): void;
}

interface PacketOptions {
  preEncoded: boolean;
  volatile?: boolean;
  compress?: boolean;
  wsPreEncodedFrame?: Buffer[];
}

interface FastOptions {
  /** True (and counted) when a volatile packet to this connection must be dropped: its unsent bytes are over the soft bound. */
  readonly dropVolatile: (conn: object) => boolean;
  /** Told when a write left bytes in the connection's socket (the kernel took less): the slow-consumer watcher then checks it. */
  readonly backedUp: (conn: object) => void;
}

/** The frame of the packet as one Buffer, when the adapter built one (a single text packet). */
function frameOf(opts: PacketOptions): Buffer | undefined {
  const list = opts.wsPreEncodedFrame;
  if (!list || list.length === 0) return undefined;
  return list.length === 1 ? list[0] : Buffer.concat(list);
}

const noFlush = () => undefined;
/** Engine.IO's own flush, put back on a connection once its batch is written. */
const engineFlush = (EngineSocket.prototype as unknown as { flush: () => void }).flush;

/**
 * The connections with frames not yet written, in the order of their first frame; from `next` on,
 * not written yet. A connection's frames are on the connection (FRAMES), so that a recipient
 * costs no lookup in a table of thousands.
 */
const pendingConns: EngineConn[] = [];
let next = 0;
/** A write of the pending batches is scheduled (a `process.nextTick`, then `setImmediate`s). */
let scheduled = false;

/**
 * Batches written per turn of the event loop (about 0.1 to 0.3 ms of writes). A broadcast to a
 * large room is written in slices: the first at the end of the tick that produced it, each next one
 * after the event loop has polled for I/O. Broadcasts that arrive in between append to the batches
 * not yet written, so one write carries them all: a room under a flood costs fewer writes than
 * messages per socket, and a large room's flush does not hold up the pod's other I/O while it runs.
 * Measured (BENCHMARKS.md): 32 coalesces more than 64, 128 or 256, at no cost to one broadcast alone.
 */
const BATCHES_PER_TURN = 32;

/** Below this many bytes a batch of several frames is copied into one Buffer (one plain write); above, written with writev. */
const CONCAT_BYTES = 16 * 1024;

function writeBatches(): void {
  try {
    const end = Math.min(next + BATCHES_PER_TURN, pendingConns.length);
    while (next < end) {
      writeBatch(pendingConns[next++]);
    }
  } finally {
    // Even after a throw: the batches left must not wait for a flush that is never scheduled.
    if (next < pendingConns.length) {
      setImmediate(writeBatches);
    } else {
      pendingConns.length = 0;
      next = 0;
      scheduled = false;
    }
  }
}

/** Writes a connection's pending frames, if it still has any (a close may have written them already). */
function writeBatch(conn: EngineConn): void {
  const frames = conn[FRAMES];
  const socket = conn[FRAMES_SOCKET];
  if (frames === undefined || socket === undefined) return;
  conn[FRAMES] = undefined;
  conn[FRAMES_SOCKET] = undefined;
  // Engine.IO's flush again. Assigned rather than deleted: deleting a property would turn every
  // batched connection into a slow dictionary-mode object.
  conn.flush = engineFlush;
  if (conn.readyState === 'open' && socket.writable) {
    if (!Array.isArray(frames)) {
      socket.write(frames);
    } else {
      let bytes = 0;
      for (const frame of frames) bytes += frame.length;
      if (bytes <= CONCAT_BYTES) {
        socket.write(Buffer.concat(frames, bytes));
      } else {
        socket.cork();
        for (const frame of frames) socket.write(frame);
        socket.uncork();
      }
    }
    if (socket.writableLength > 0) conn.server[ENABLED]?.backedUp(conn);
  }
  // What Engine.IO was asked to send while the batch waited goes out behind it (its flush does
  // nothing when its buffer is empty).
  if (conn.writeBuffer.length > 0) conn.flush();
}

/**
 * A ws WebSocket's TCP socket when bytes may be written to it straight away: open, and ws's sender
 * idle (not deflating, nothing queued), so that nothing sent before is passed. Undefined otherwise.
 */
function idleSocketOf(ws: WsLike | undefined): NetSocket | undefined {
  const sender = ws?._sender;
  return ws?.readyState === WS_OPEN && sender?._state === SENDER_IDLE && sender._queue?.length === 0 ? ws._socket : undefined;
}

/**
 * A ws WebSocket's TCP socket when it is open, for a connection that does not deflate: ws's sender
 * then writes every frame the moment it is given one (it queues only while compressing, or reading
 * a Blob, which nothing here sends), so nothing queued can be passed. Undefined otherwise.
 */
function openSocketOf(ws: WsLike | undefined): NetSocket | undefined {
  return ws?.readyState === WS_OPEN ? ws._socket : undefined;
}

/** The socket a frame for this WebSocket may be written to now: idle when it may deflate, open when it does not. */
export function writableSocketOf(ws: WsLike | undefined, deflate: boolean): NetSocket | undefined {
  return deflate ? idleSocketOf(ws) : openSocketOf(ws);
}

/**
 * The socket a Socket.IO client's frame may be written to now (Engine.IO's own WebSocket transport).
 * Engine.IO gives each WebSocket transport its server's perMessageDeflate option, which it reads
 * itself before sending a pre-encoded frame: a server that may deflate keeps its Socket.IO clients
 * on its own path. Without it, ws's sender writes every frame the moment it is given one (it
 * queues only while compressing, or reading a Blob, which Engine.IO never sends): an open socket
 * is enough.
 */
function engineSocket(conn: EngineConn): NetSocket | undefined {
  const transport = conn.transport;
  return transport.name === 'websocket' && !transport.perMessageDeflate ? openSocketOf(transport.socket) : undefined;
}

/** Appends a frame to the connection's pending batch (opened, and its write scheduled, with the first). */
function append(conn: EngineConn, socket: NetSocket, frame: Buffer): void {
  const frames = conn[FRAMES];
  if (frames === undefined) {
    conn[FRAMES] = frame;
    conn[FRAMES_SOCKET] = socket;
    pendingConns.push(conn);
    // Anything Engine.IO is asked to send before the batch is written waits behind it.
    conn.flush = noFlush;
    if (!scheduled) {
      scheduled = true;
      process.nextTick(writeBatches);
    }
  } else if (Array.isArray(frames)) {
    frames.push(frame);
  } else {
    conn[FRAMES] = [frames, frame];
  }
}

/** A packet's WebSocket frame, or how to build it when a recipient can take it (built at most once per recipient). */
type FrameSource = Buffer | (() => Buffer) | undefined;

function deliver(socket: RecipientSocket, packets: unknown[], opts: PacketOptions, frame: FrameSource, fast: FastOptions): void {
  const conn = socket.client.conn;
  if (conn.readyState === 'open' && !conn.upgrading && conn.writeBuffer.length === 0) {
    const ownWire = conn.transport[FAST_WIRE];
    if (ownWire) {
      if (packets.length === 1 && typeof packets[0] === 'string') {
        if (opts.volatile && fast.dropVolatile(conn)) return;
        const out = ownWire.call(conn.transport, packets[0], opts);
        if (out === null) return;
        if (out !== undefined) {
          append(conn, out.socket, out.wire);
          return;
        }
      }
    } else if (frame !== undefined) {
      const raw = engineSocket(conn);
      if (raw) {
        if (opts.volatile && fast.dropVolatile(conn)) return;
        append(conn, raw, typeof frame === 'function' ? frame() : frame);
        return;
      }
    }
  }
  socket.client.writeToEngine(packets, opts);
}

/**
 * An unmasked, unfragmented WebSocket text frame (RFC 6455 section 5.2), header and payload in one
 * Buffer, the payload being `parts` one after another: the bytes ws's `Sender.frame` writes for a
 * server, in one piece (one write per recipient, not a header and a payload).
 */
export function textFrame(parts: readonly Buffer[]): Buffer {
  let length = 0;
  for (const part of parts) length += part.length;
  const headerLength = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81;
  if (headerLength === 2) {
    frame[1] = length;
  } else if (headerLength === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt16BE(0, 2);
    frame.writeUIntBE(length, 4, 6);
  }
  let offset = headerLength;
  for (const part of parts) offset += part.copy(frame, offset);
  return frame;
}

/**
 * One packet to one socket, encoded by the caller: `text` is socket.io-parser's string of one text
 * packet in the socket's namespace (what `socket.emit` would encode), `frame()` builds its WebSocket
 * frame (header and the Engine.IO message `4` + text), `args()` the emitted arguments, asked only
 * when the socket has outgoing listeners. For producers that send many sockets nearly the same
 * packet (stream items, each subscriber with its own subscription id): the shared part is encoded
 * once, and each recipient is written as a broadcast's are, into its pending batch when it may be
 * written now, else through socket.io's own path (always, when FAST_BROADCAST is off).
 */
export function sendEncoded(socket: Socket, text: string, frame: () => Buffer, args: () => unknown[]): void {
  const recipient = socket as unknown as RecipientSocket;
  if (recipient.client.conn.readyState !== 'open') return; // socket.io's Client._packet drops it too
  if (recipient._anyOutgoingListeners?.length) recipient.notifyOutgoingListeners?.({ type: 2, nsp: socket.nsp.name, data: args() });
  const opts: PacketOptions = { preEncoded: true };
  const fast = (socket.nsp.server as unknown as { [ENABLED]?: FastOptions })[ENABLED];
  if (fast) deliver(recipient, [text], opts, frame, fast);
  else recipient.client.writeToEngine([text], opts);
}

/** What every recipient of one broadcast shares: the encoded packets, their options, the prebuilt frame. */
function encodeOnce(adapter: AdapterInternals, packet: { nsp?: string }, opts: BroadcastOptions) {
  const flags = opts.flags ?? {};
  const packetOpts: PacketOptions = { preEncoded: true, volatile: flags.volatile, compress: flags.compress };
  packet.nsp = adapter.nsp.name;
  const packets = adapter._encode(packet, packetOpts);
  return { packets, packetOpts, frame: frameOf(packetOpts) };
}

/**
 * Whether any socket of this pod may receive the broadcast. When none can (on Redis, the pods of
 * the members are elsewhere; an event emitted in every namespace that serves it), the packet is
 * not encoded here at all: socket.io-adapter would encode it before looking for recipients.
 */
function mayReachLocal(adapter: AdapterInternals, opts: BroadcastOptions): boolean {
  if (opts.rooms.size === 0) return adapter.sids.size > 0;
  for (const room of opts.rooms) if ((adapter.rooms.get(room)?.size ?? 0) > 0) return true;
  return false;
}

/**
 * Calls `callback` for each local recipient of a broadcast, as the adapter's `apply` does. One room
 * and no exclusions (a room broadcast, the usual case) is walked straight from the room's set:
 * `apply` also fills a set of the ids served, to serve a socket in several rooms once, which costs
 * a hash insert per recipient and does nothing for one room.
 */
function eachRecipient(adapter: AdapterInternals, opts: BroadcastOptions, apply: AdapterInternals['apply'], callback: (socket: RecipientSocket) => void): void {
  if (opts.rooms.size !== 1 || (opts.except !== undefined && opts.except.size > 0) || adapter.apply !== apply) {
    adapter.apply(opts, callback);
    return;
  }
  for (const room of opts.rooms) {
    const ids = adapter.rooms.get(room);
    if (ids === undefined) return;
    const sockets = adapter.nsp.sockets;
    for (const id of ids) {
      const socket = sockets.get(id);
      if (socket !== undefined) callback(socket);
    }
  }
}

type Broadcast = (this: AdapterInternals, packet: { nsp?: string; id?: number }, opts: BroadcastOptions) => void;
type BroadcastWithAck = (
  this: AdapterInternals,
  packet: { nsp?: string; id?: number },
  opts: BroadcastOptions,
  clientCountCallback: (count: number) => void,
  ack: (...args: unknown[]) => void,
) => void;

function patchAdapter(): void {
  const proto = Adapter.prototype as unknown as { broadcast: Broadcast; broadcastWithAck: BroadcastWithAck; apply: AdapterInternals['apply']; [PATCHED]?: true };
  if (proto[PATCHED]) return;
  const original = { broadcastWithAck: proto.broadcastWithAck, apply: proto.apply };
  /** The broadcast of servers without the fast path: the adapter's own, or whatever is assigned to the prototype's `broadcast` since. */
  let others = proto.broadcast;

  const broadcast: Broadcast = function (packet, opts) {
    const fast = this.nsp.server[ENABLED];
    if (!fast) return others.call(this, packet, opts);
    if (!mayReachLocal(this, opts)) return;
    const { packets, packetOpts, frame } = encodeOnce(this, packet, opts);
    eachRecipient(this, opts, original.apply, (socket) => {
      socket.notifyOutgoingListeners?.(packet);
      deliver(socket, packets, packetOpts, frame, fast);
    });
  };
  // socket.io's Server#close puts back the Adapter methods it captured when it was loaded (for its
  // uWebSockets.js support: socket.io/dist/uws.js `restoreAdapter`), whether or not anything
  // patched them. With a plain method, the first Socket.IO server of the process to close took
  // this path away from every other. As an accessor, `broadcast` stays this function; what is
  // assigned to it becomes the broadcast of the servers without the fast path.
  Object.defineProperty(proto, 'broadcast', {
    configurable: true,
    enumerable: false,
    get: () => broadcast,
    set: (assigned: Broadcast) => {
      others = assigned;
    },
  });

  proto.broadcastWithAck = function (packet, opts, clientCountCallback, ack) {
    const fast = this.nsp.server[ENABLED];
    if (!fast) return original.broadcastWithAck.call(this, packet, opts, clientCountCallback, ack);
    // One id for every recipient, as socket.io does (the namespace's counter is shared: no duplicates).
    packet.id = this.nsp._ids++;
    if (!mayReachLocal(this, opts)) return clientCountCallback(0);
    const { packets, packetOpts, frame } = encodeOnce(this, packet, opts);
    let clientCount = 0;
    eachRecipient(this, opts, original.apply, (socket) => {
      clientCount++;
      socket.acks.set(packet.id!, ack);
      socket.notifyOutgoingListeners?.(packet);
      deliver(socket, packets, packetOpts, frame, fast);
    });
    clientCountCallback(clientCount);
  };
  proto[PATCHED] = true;

  // A connection closed by the server (socket.disconnect(), a kick, an expired token) gets its
  // pending batch first, as socket.io's path would have written it before the close.
  const engineProto = EngineSocket.prototype as unknown as { close: (this: EngineConn, discard?: boolean) => unknown };
  const close = engineProto.close;
  engineProto.close = function (discard) {
    if (!discard) writeBatch(this);
    return close.call(this, discard);
  };
}

/**
 * What is not as this module expects in the installed socket.io-adapter, engine.io and ws; empty
 * when the fast path can run.
 */
export function fastBroadcastProblems(): string[] {
  const problems: string[] = [];
  const proto = Adapter.prototype as unknown as Record<string, unknown>;
  for (const method of ['broadcast', 'broadcastWithAck', '_encode', 'apply']) {
    if (typeof proto[method] !== 'function') problems.push(`socket.io-adapter: Adapter.prototype.${method} is missing`);
  }
  for (const method of ['close', 'flush']) {
    if (typeof (EngineSocket.prototype as unknown as Record<string, unknown>)[method] !== 'function') problems.push(`engine.io: Socket.prototype.${method} is missing`);
  }
  // ws exports its Sender (socket.io-adapter builds frames with Sender.frame); @types/ws does not declare it.
  const SenderClass = (WebSocket as unknown as { Sender?: (new (socket: unknown) => { _state?: unknown; _queue?: unknown }) & { frame?: unknown } }).Sender;
  if (typeof SenderClass?.frame !== 'function') {
    problems.push('ws: Sender.frame is missing');
  } else {
    const sender = new SenderClass({ cork() {}, uncork() {}, write() {} });
    if (sender._state !== SENDER_IDLE || !Array.isArray(sender._queue)) problems.push('ws: Sender._state / Sender._queue are not as expected');
  }
  return problems;
}

/**
 * Turns the fast path on for one server (when the start-up check passes); returns what turns it
 * off again. `dropVolatile` is the slow-consumer check volatile packets obey, `backedUp` tells the
 * slow-consumer watcher of a socket left with bytes to write (server/slow-consumers.ts).
 */
export function enableFastBroadcast(io: Server, options: Pick<FastOptions, 'dropVolatile' | 'backedUp'> & { logger: Logger }): () => void {
  const problems = fastBroadcastProblems();
  if (problems.length) {
    options.logger.warn("FAST_BROADCAST: the installed socket.io-adapter, engine.io or ws are not as expected; keeping socket.io's own broadcast path", { problems });
    return () => undefined;
  }
  patchAdapter();
  const server = io as unknown as { [ENABLED]?: FastOptions };
  const engine = io.engine as unknown as EngineConn['server'];
  // On the Socket.IO server for broadcasts, on its engine for writes (a connection knows its engine).
  server[ENABLED] = engine[ENABLED] = { dropVolatile: options.dropVolatile, backedUp: options.backedUp };
  return () => {
    delete server[ENABLED];
    delete engine[ENABLED];
  };
}
