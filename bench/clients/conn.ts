import WebSocket from 'ws';
import { stampOf } from './protocol';

/**
 * A lean load-generator connection, so the client side costs little CPU: a delivery is recognised
 * by its prefix and its timestamp read without JSON parsing. Three modes:
 * - `sio`: Engine.IO 4 / Socket.IO 5 text packets over a plain WebSocket (the frames on the wire
 *   are exactly socket.io-client's with `transports: ['websocket']`);
 * - `native`: the gateway's seed 002 dialect (`/api/v1/ws?token=`), flat `{type, ...fields}`;
 * - `raw`: the ws baseline, where every text frame is a delivery.
 */
export type Mode = 'sio' | 'native' | 'raw';

export interface ConnOptions {
  /** Full ws:// URL (for Socket.IO: .../socket.io/?EIO=4&transport=websocket). */
  url: string;
  mode: Mode;
  namespace: string;
  auth?: Record<string, unknown>;
  /** The user id in the token. */
  userId?: string;
  receiveEvent: string;
  ignoredEvents: string[];
  timeoutMs: number;
}

export interface ConnSink {
  /** A delivery of the fan-out message, with its send stamp. */
  delivery(tsUs: number, phase: number): void;
  /** Any other server event (error events, unexpected ones). */
  event(name: string, payload: unknown): void;
  /** A server push the bench ignores (room_state, user_joined...): counted, not parsed. */
  ignored(name: string, bytes: number): void;
  closed(): void;
}

export class Conn {
  private ws!: WebSocket;
  private readonly prefix: string;
  private readonly acks = new Map<number, (r: unknown) => void>();
  private nextAck = 1;
  private readonly deliveryHead: string;
  private readonly ignoredHeads: Array<[string, string]>;
  private joined?: (r: unknown) => void;

  constructor(
    private readonly opts: ConnOptions,
    private readonly sink: ConnSink,
  ) {
    this.prefix = opts.namespace === '/' ? '' : `${opts.namespace},`;
    const head = (e: string) => (opts.mode === 'native' ? `{"type":"${e}"` : `2${this.prefix}["${e}",`);
    this.deliveryHead = head(opts.receiveEvent);
    this.ignoredHeads = opts.ignoredEvents.map((e) => [e, head(e)]);
  }

  /** Resolves when connected (Socket.IO: namespace CONNECT received, i.e. auth passed). */
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          this.ws.terminate();
          reject(err);
        } else resolve();
      };
      const timer = setTimeout(() => done(new Error('connect timeout')), this.opts.timeoutMs);
      this.ws = new WebSocket(this.opts.url, { perMessageDeflate: false, skipUTF8Validation: true });
      this.ws.on('error', (err) => done(err));
      this.ws.on('close', () => {
        done(new Error('closed during connect'));
        this.sink.closed();
      });
      if (this.opts.mode === 'sio') {
        this.ws.on('message', (data) => {
          const frame = data.toString();
          const type = frame.charCodeAt(0);
          if (type === 50 /* '2' ping */) this.ws.send('3');
          else if (type === 52 /* '4' message */) this.packet(frame.slice(1), done);
          else if (type === 48 /* '0' open */) this.ws.send(`40${this.prefix}${JSON.stringify(this.opts.auth ?? {})}`);
        });
        return;
      }
      this.ws.on('open', () => done());
      this.ws.on('message', (data) => (this.opts.mode === 'native' ? this.nativeFrame(data.toString()) : this.rawFrame(data.toString())));
    });
  }

  private rawFrame(frame: string): void {
    const s = stampOf(frame);
    if (s) this.sink.delivery(s.tsUs, s.phase);
  }

  private nativeFrame(frame: string): void {
    if (frame.startsWith(this.deliveryHead)) return this.rawFrame(frame);
    // Seed 002 has no join reply: a member gets room_state (the room's push in a small room, its
    // own truncated one in a large room), and only a member can receive it.
    if (this.joined && frame.startsWith('{"type":"room_state"')) {
      this.joined({ ok: true });
      this.joined = undefined;
    }
    for (const [name, head] of this.ignoredHeads) if (frame.startsWith(head)) return this.sink.ignored(name, frame.length);
    const msg = safeJson(frame) as { type?: string; code?: string } | undefined;
    if (msg?.type === 'error' && this.joined) {
      this.joined({ ok: false, error: { code: msg.code } });
      this.joined = undefined;
    }
    if (msg?.type) this.sink.event(msg.type, msg);
  }

  private packet(p: string, connected: (err?: Error) => void): void {
    if (p.startsWith(this.deliveryHead)) return this.rawFrame(p);
    for (const [name, head] of this.ignoredHeads) if (p.startsWith(head)) return this.sink.ignored(name, p.length + 1);
    const kind = p[0];
    const body = p.slice(1 + this.prefix.length);
    if (kind === '0') connected();
    else if (kind === '4') {
      const data = safeJson(body) as { message?: string; data?: { code?: string } } | undefined;
      connected(new Error(`connect_error ${data?.data?.code ?? data?.message ?? body}`));
    } else if (kind === '3') {
      const m = /^(\d+)(.*)$/s.exec(body);
      const cb = m && this.acks.get(Number(m[1]));
      if (m && cb) {
        this.acks.delete(Number(m[1]));
        cb((safeJson(m[2]) as unknown[] | undefined)?.[0]);
      }
    } else if (kind === '2') {
      const arr = safeJson(body.replace(/^\d+/, '')) as unknown[] | undefined;
      if (Array.isArray(arr)) this.sink.event(String(arr[0]), arr[1]);
    }
  }

  /** Socket.IO: emits an event, with an ack when `ack` is given. Native: sends `{type, ...payload}`. */
  emit(event: string, payload: unknown, ack?: (r: unknown) => void): void {
    if (this.opts.mode === 'native') {
      this.ws.send(JSON.stringify({ type: event, ...(payload as object) }));
      return;
    }
    let id = '';
    if (ack) {
      const n = this.nextAck++;
      this.acks.set(n, ack);
      id = String(n);
    }
    this.ws.send(`42${this.prefix}${id}${JSON.stringify([event, payload])}`);
  }

  /** Joins a room: Socket.IO acked event; a native join is confirmed by the first room_state. */
  join(event: string, roomId: string, done: (r: unknown) => void): void {
    if (this.opts.mode === 'raw') return done({ ok: true });
    if (this.opts.mode === 'native') this.joined = done;
    this.emit(event, { room_id: roomId }, this.opts.mode === 'sio' ? done : undefined);
  }

  /** Bytes queued by `ws` but not yet handed to the kernel (the flood's backpressure). */
  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Raw ws: sends a text frame. */
  sendRaw(text: string): void {
    this.ws.send(text);
  }

  close(): void {
    this.ws?.terminate();
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
