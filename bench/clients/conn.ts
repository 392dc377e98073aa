import WebSocket from 'ws';
import { stampOf } from './protocol';

/**
 * A lean load-generator connection. For Socket.IO servers it speaks Engine.IO 4 / Socket.IO 5
 * text packets over a plain WebSocket (the frames on the wire are exactly socket.io-client's with
 * `transports: ['websocket']`), so the client side costs little CPU: a delivery is recognised by
 * its prefix and its timestamp read without JSON parsing. For the raw ws server every text frame
 * is a delivery.
 */
export interface ConnOptions {
  /** Full ws:// URL (for Socket.IO: .../socket.io/?EIO=4&transport=websocket). */
  url: string;
  sio: boolean;
  namespace: string;
  auth?: Record<string, unknown>;
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
  private deliveryHead: string;
  private ignoredHeads: Array<[string, string]>;

  constructor(
    private readonly opts: ConnOptions,
    private readonly sink: ConnSink,
  ) {
    this.prefix = opts.namespace === '/' ? '' : `${opts.namespace},`;
    this.deliveryHead = `2${this.prefix}["${opts.receiveEvent}",`;
    this.ignoredHeads = opts.ignoredEvents.map((e) => [e, `2${this.prefix}["${e}",`]);
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
      if (!this.opts.sio) {
        this.ws.on('open', () => done());
        this.ws.on('message', (data) => {
          const s = stampOf(data.toString());
          if (s) this.sink.delivery(s.tsUs, s.phase);
        });
        return;
      }
      this.ws.on('message', (data) => {
        const frame = data.toString();
        const type = frame.charCodeAt(0);
        if (type === 50 /* '2' ping */) this.ws.send('3');
        else if (type === 52 /* '4' message */) this.packet(frame.slice(1), done);
        else if (type === 48 /* '0' open */) this.ws.send(`40${this.prefix}${JSON.stringify(this.opts.auth ?? {})}`);
      });
    });
  }

  private packet(p: string, connected: (err?: Error) => void): void {
    if (p.startsWith(this.deliveryHead)) {
      const s = stampOf(p);
      if (s) this.sink.delivery(s.tsUs, s.phase);
      return;
    }
    for (const [name, head] of this.ignoredHeads) {
      if (p.startsWith(head)) {
        this.sink.ignored(name, p.length + 1);
        return;
      }
    }
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

  /** Socket.IO: emits an event, with an ack when `ack` is given. */
  emit(event: string, payload: unknown, ack?: (r: unknown) => void): void {
    let id = '';
    if (ack) {
      const n = this.nextAck++;
      this.acks.set(n, ack);
      id = String(n);
    }
    this.ws.send(`42${this.prefix}${id}${JSON.stringify([event, payload])}`);
  }

  /** Raw ws: sends a text frame. */
  sendRaw(text: string): void {
    this.ws.send(text);
  }

  /** Bytes queued in this client not yet handed to the kernel. */
  buffered(): number {
    return this.ws.bufferedAmount;
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
