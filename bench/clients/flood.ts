import jwt from 'jsonwebtoken';
import { Histogram } from '../lib/histogram';
import { nowUs, sleep } from '../lib/stats';
import type { Command, FloodResult, PacedResult } from './commands';
import { Conn, type ConnSink } from './conn';
import { cellUpdate, chatSpecOf } from './protocol';
import type { Group } from './worker-state';

/**
 * The flood scenario's two client roles (bench/scenarios/flood.ts), each in its own process so that
 * the abuser's sending never delays the well-behaved users' timers or ack handling.
 */

const ACK_TIMEOUT_MS = 10_000;
/** The abuser's frames sent and not yet answered, per connection: it keeps the server's queue full without piling up a backlog in the kernel's socket buffers that would outlive the phase. */
const FLOOD_WINDOW = 1000;

const bump = (m: Record<string, number>, k: string, by = 1) => void (m[k] = (m[k] ?? 0) + by);
const codeOf = (ack: unknown): string | undefined => (ack as { error?: { code?: string } } | undefined)?.error?.code;
const isOk = (ack: unknown): boolean => Boolean((ack as { ok?: boolean } | undefined)?.ok);

/**
 * Well-behaved users: the group's members send acked cell updates in turn (member i % n sends the
 * i-th), `ratePerS` in all, each to a new cell of its own (so none waits for a version); latency is
 * the round trip from writing the frame to the ack.
 */
export async function paced(c: Extract<Command, { cmd: 'paced' }>, g: Group): Promise<PacedResult> {
  const { conns } = g;
  const hist = new Histogram();
  const failed: Record<string, number> = {};
  const closed0 = g.closed;
  const cpu0 = process.cpuUsage();
  const wall0 = nowUs();
  const intervalUs = 1e6 / c.ratePerS;
  const total = Math.round(c.ratePerS * c.seconds);
  let sent = 0;
  let ok = 0;
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < total && conns.length; i++) {
    const waitMs = (wall0 + i * intervalUs - nowUs()) / 1000;
    if (waitMs > 1) await sleep(waitMs);
    const user = i % conns.length;
    const conn = conns[user];
    if (!conn.isOpen) {
      bump(failed, 'closed');
      continue;
    }
    sent++;
    const t0 = nowUs();
    pending.push(
      new Promise<void>((resolve) => {
        let settled = false;
        const timer = setTimeout(() => {
          settled = true;
          bump(failed, 'timeout');
          resolve();
        }, ACK_TIMEOUT_MS);
        conn.emit(cellUpdate.event, cellUpdate.payload(`${c.cellPrefix}-u${user}-${i}`, i, 0), (ack) => {
          if (settled) return;
          clearTimeout(timer);
          if (isOk(ack)) {
            hist.record(nowUs() - t0);
            ok++;
          } else bump(failed, codeOf(ack) ?? JSON.stringify(ack).slice(0, 80));
          resolve();
        });
      }),
    );
  }
  await Promise.all(pending);
  const cpu = process.cpuUsage(cpu0);
  const endUs = nowUs();
  return { hist: hist.toData(), sent, ok, failed, closed: g.closed - closed0, cpuUs: cpu.user + cpu.system, wallUs: endUs - wall0, startUs: wall0, endUs };
}

/**
 * The abuser: a user of its own (`sub` abuser-<index>) on `connections` Socket.IO connections that
 * joins the room and sends acked cell updates (request class) at up to `ratePerS` frames a second
 * for `seconds`, at most FLOOD_WINDOW unanswered per connection. A connection the server closes is
 * opened again at once (10 ms after a refused attempt), as a hostile client would; each reopened
 * connection joins the room again. Counts what was sent, served, refused and lost.
 */
export async function flood(c: Extract<Command, { cmd: 'flood' }>): Promise<FloodResult> {
  const spec = chatSpecOf(c.kind);
  const sub = `abuser-${c.userIndex}`;
  const token = jwt.sign({ sub, name: `Abuser ${c.userIndex}` }, process.env.BENCH_JWT_SECRET ?? '', { algorithm: 'HS256', expiresIn: '1h' });
  const r: FloodResult = {
    sent: 0,
    served: 0,
    refused: {},
    unanswered: 0,
    disconnects: 0,
    errorEvents: {},
    reconnectAttempts: 0,
    reconnected: 0,
    connectFailures: {},
    joinsOk: 0,
    joinsRefused: {},
    firstDisconnectMs: -1,
    floodUs: 0,
    firstFrameUs: 0,
    floodEndUs: 0,
    cpuUs: 0,
    wallUs: 0,
  };
  interface Slot {
    conn?: Conn;
    /** Frames sent on `conn` and not answered yet. */
    unanswered: number;
    connecting: boolean;
    retryAtUs: number;
  }
  const slots: Slot[] = Array.from({ length: c.connections }, () => ({ unanswered: 0, connecting: false, retryAtUs: 0 }));
  const all = new Set<Conn>();
  let attempts = 0;
  let stopping = false;
  let firstFrameUs = 0;
  const cpu0 = process.cpuUsage();
  const wall0 = nowUs();

  const open = async (slot: Slot) => {
    slot.connecting = true;
    if (attempts++ >= c.connections) r.reconnectAttempts++;
    let connected = false;
    const sink: ConnSink = {
      delivery: () => undefined,
      ignored: () => undefined,
      event(name, payload) {
        if (name === 'error') bump(r.errorEvents, (payload as { code?: string } | undefined)?.code ?? 'unknown');
      },
      closed() {
        all.delete(conn);
        if (!connected) return;
        connected = false;
        if (slot.conn === conn) slot.conn = undefined;
        r.unanswered += slot.unanswered;
        slot.unanswered = 0;
        if (stopping) return;
        r.disconnects++;
        if (r.firstDisconnectMs < 0 && firstFrameUs) r.firstDisconnectMs = Math.round((nowUs() - firstFrameUs) / 1000);
      },
    };
    const conn = new Conn(
      {
        url: `${c.url}/socket.io/?EIO=4&transport=websocket`,
        mode: 'sio',
        namespace: spec.namespace,
        auth: { token },
        userId: sub,
        receiveEvent: spec.receiveEvent,
        ignoredEvents: spec.ignoredEvents,
        timeoutMs: c.connectTimeoutMs,
      },
      sink,
    );
    all.add(conn);
    try {
      await conn.open();
      connected = true;
      if (attempts > c.connections) r.reconnected++;
      if (stopping) return conn.close();
      slot.conn = conn;
      slot.unanswered = 0;
      conn.join(spec.joinEvent, c.room, (ack) => (isOk(ack) ? r.joinsOk++ : bump(r.joinsRefused, codeOf(ack) ?? 'unknown')));
    } catch (err) {
      bump(r.connectFailures, (err as Error).message);
      slot.retryAtUs = nowUs() + 10_000;
    } finally {
      slot.connecting = false;
    }
  };

  const send = (slot: Slot, conn: Conn) => {
    const i = r.sent++;
    slot.unanswered++;
    conn.emit(cellUpdate.event, cellUpdate.payload(`abuse-${c.userIndex}-${i}`, i, 0), (ack) => {
      if (slot.conn === conn) slot.unanswered--;
      if (isOk(ack)) r.served++;
      else bump(r.refused, codeOf(ack) ?? 'unknown');
    });
  };

  // Token bucket: `ratePerS` frames a second, bursts of at most 20 ms worth.
  const burst = Math.max(20, c.ratePerS / 50);
  let tokens = 0;
  let last = nowUs();
  const endUs = wall0 + c.seconds * 1e6;
  while (nowUs() < endUs) {
    const now = nowUs();
    for (const slot of slots) if (!slot.conn && !slot.connecting && now >= slot.retryAtUs) void open(slot);
    tokens = Math.min(burst, tokens + ((now - last) * c.ratePerS) / 1e6);
    last = now;
    for (const slot of slots) {
      const conn = slot.conn;
      if (!conn) continue;
      while (tokens >= 1 && slot.unanswered < FLOOD_WINDOW && conn.isOpen) {
        if (!firstFrameUs) firstFrameUs = nowUs();
        send(slot, conn);
        tokens--;
      }
    }
    await sleep(1);
  }
  r.floodEndUs = nowUs();
  r.firstFrameUs = firstFrameUs;
  r.floodUs = firstFrameUs ? r.floodEndUs - firstFrameUs : 0;
  // The answers still on their way, for at most 5 s; then every connection is closed.
  const drainEnd = Date.now() + 5000;
  while (slots.some((s) => s.conn && s.unanswered > 0) && Date.now() < drainEnd) await sleep(20);
  stopping = true;
  for (const slot of slots) {
    r.unanswered += slot.unanswered;
    slot.unanswered = 0;
  }
  for (const conn of all) conn.close();
  const cpu = process.cpuUsage(cpu0);
  r.cpuUs = cpu.user + cpu.system;
  r.wallUs = nowUs() - wall0;
  return r;
}
