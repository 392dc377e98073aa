import { Transport } from 'engine.io';
import WebSocket from 'ws';
import { FAST_WIRE, textFrame, writableSocketOf, type FastWire, type WsLike } from '../fast-broadcast';

/** `ws` internal used to send one pre-framed buffer to many sockets (as Socket.IO's adapter does). */
type RawSender = { sendFrame(list: readonly Buffer[], cb?: (err?: Error) => void): void };

/**
 * A text frame framed once (header and payload) for all the recipients of a broadcast; written
 * to each socket as is. Only valid without permessage-deflate, which the native server disables.
 */
export class PreparedFrame {
  /** Header and payload in one Buffer: one write per recipient, not a corked pair. */
  readonly wire: Buffer;
  constructor(readonly text: string) {
    this.wire = textFrame([Buffer.from(text)]);
  }
}

export type OutgoingFrame = string | PreparedFrame;

/** The bridge side of a native transport: turns what the server sends into dialect frames. */
export interface PacketSink {
  /** A Socket.IO-encoded packet for the client (`options` is shared by a broadcast's recipients). */
  outgoing(encoded: string, options: object | undefined): OutgoingFrame | undefined;
  /** How to close when nobody chose a code (shutdown, refused handshake, server disconnect). */
  defaultClose(): { code: number; reason: string };
}

/** The engine.io packet shape handed to `send` (engine.io-parser's Packet). */
interface EnginePacket {
  type: string;
  data?: unknown;
  options?: object;
}

const TEXT = { binary: false };

/**
 * An engine.io transport over a native WebSocket speaking a dialect (named `websocket`, so the
 * engine socket treats it like its own). Outgoing `message` packets carry Socket.IO-encoded packets
 * that the sink turns into dialect frames; engine.io heartbeats become WebSocket ping frames and
 * the client's pong frame becomes the engine.io pong. Incoming dialect frames enter through
 * `receive` as Socket.IO-encoded packets, exactly as a Socket.IO client's would.
 */
export class NativeTransport extends Transport {
  private awaitingPong = false;
  private closeWith?: { code: number; reason: string };
  /** The connection negotiated permessage-deflate (the native endpoints never offer it): ws's sender state must then be read before writing past it. */
  private readonly deflates: boolean;
  private readonly onSentLast = (err?: Error) => {
    if (err) return; // the connection is going; engine.io hears of it from the close event
    this.writable = true;
    this.emit('drain');
    this.emit('ready');
  };

  constructor(
    private readonly ws: WebSocket,
    query: Record<string, string>,
    private readonly sink: PacketSink,
  ) {
    super({ _query: { ...query, EIO: '4', transport: 'websocket' } });
    this.writable = true;
    this.deflates = ws.extensions !== '';
    ws.on('pong', () => {
      this.awaitingPong = false;
      this.onPacket({ type: 'pong' });
    });
    ws.once('close', () => this.onClose());
    ws.on('error', (err) => this.onError('websocket error', err.message));
  }

  get name(): string {
    return 'websocket';
  }

  /** Bytes handed to the WebSocket and not yet written to the kernel: what the slow-consumer watcher bounds. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /** Hands a Socket.IO-encoded packet from the client to the engine socket. */
  receive(encoded: string): void {
    if (this.readyState === 'open') this.onPacket({ type: 'message', data: encoded });
  }

  /** The close code and reason the next close uses (the first caller wins). */
  setClose(code: number, reason: string): void {
    this.closeWith ??= { code, reason };
  }

  send(packets: EnginePacket[]): void {
    this.writable = false;
    const frames: OutgoingFrame[] = [];
    for (const packet of packets) {
      if (packet.type === 'message' && typeof packet.data === 'string') {
        const frame = this.sink.outgoing(packet.data, packet.options);
        if (frame !== undefined) frames.push(frame);
      } else if (packet.type === 'ping' && this.ws.readyState === WebSocket.OPEN) {
        this.awaitingPong = true;
        this.ws.ping();
      }
    }
    if (frames.length === 0 || this.ws.readyState !== WebSocket.OPEN) {
      this.onSentLast();
      return;
    }
    const last = frames.length - 1;
    for (let i = 0; i < last; i++) this.write(frames[i]);
    this.write(frames[last], this.onSentLast);
  }

  /**
   * For server/fast-broadcast.ts: this client's wire bytes of a broadcast packet (its dialect's
   * frame, built once per broadcast and dialect), when they can be written now: the WebSocket open
   * and ws's sender idle, so nothing queued is passed. `null`: the dialect has no frame for it.
   */
  [FAST_WIRE](...[encoded, options]: Parameters<FastWire>): ReturnType<FastWire> {
    const socket = writableSocketOf(this.ws as unknown as WsLike, this.deflates);
    if (!socket) return undefined;
    const frame = this.sink.outgoing(encoded, options);
    if (frame === undefined) return null;
    return { socket, wire: typeof frame === 'string' ? textFrame([Buffer.from(frame)]) : frame.wire };
  }

  private write(frame: OutgoingFrame, cb?: (err?: Error) => void): void {
    if (typeof frame === 'string') this.ws.send(frame, TEXT, cb);
    else (this.ws as unknown as { _sender: RawSender })._sender.sendFrame([frame.wire], cb);
  }

  doClose(fn?: () => void): void {
    if (this.awaitingPong && !this.closeWith) {
      // The client stopped answering pings: no closing handshake with a peer that is gone.
      this.ws.terminate();
    } else {
      const { code, reason } = this.closeWith ?? this.sink.defaultClose();
      this.ws.close(code, reason);
    }
    fn?.();
  }
}
