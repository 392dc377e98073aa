import { EventEmitter, once } from 'node:events';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { io as ioV4 } from 'socket.io-client';
import WebSocket from 'ws';
import { ConnectionTracker, drainConnections } from '../server/drain';
import { createLogger } from '../server/logger';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';
import { PodProcess } from './support/pods';
import { ServiceProxyProcess } from './support/service-proxy';
import { token } from './support/tokens';
import { ioV2, type AnySocket } from './support/clients';
import { Progress } from './support/progress';

const redis = useRedis();
cleanUpAfterEach();

const DRAIN_MS = 3000;
const V4_CLIENTS = 1000;
const V2_CLIENTS = 50;
const NATIVE_CLIENTS = 50;
const TOTAL = V4_CLIENTS + V2_CLIENTS + NATIVE_CLIENTS;
const ROOM = 'deploy';
const API_KEY = 'k'.repeat(32);
/** Reconnect backoff of every client: eager (100 ms ± 50 %), so the pacing measured is the server's. */
const BACKOFF = { reconnectionDelay: 100, reconnectionDelayMax: 1000, randomizationFactor: 0.5 };

type Kind = 'v4' | 'v2' | 'native';

/** One client as the test sees it: when it (re)connected and rejoined, what it received, how it was closed. */
interface Tracked {
  readonly kind: Kind;
  readonly user: string;
  /** Every successful connect (through the Service), ms since epoch. */
  readonly connects: number[];
  /** When the join_room of its current connection was confirmed (the ack; a native client's room_state). */
  joinedAt?: number;
  /** The `seq` of every `tick` broadcast it received. */
  readonly seqs: Set<number>;
  /** Disconnect reasons (Socket.IO) or close codes and reasons (native). */
  readonly closes: string[];
  stop(): void;
}

const progress = new Progress();
const clients: Tracked[] = [];

/** The broadcast whose arrival everywhere the test waits for (the others are only recorded). */
let awaitedSeq = -1;
function received(t: Tracked, seq: number): void {
  t.seqs.add(seq);
  if (seq === awaitedSeq) progress.notify();
}

function track(kind: Kind, user: string): Tracked {
  const t: Tracked = { kind, user, connects: [], seqs: new Set(), closes: [], stop: () => undefined };
  clients.push(t);
  return t;
}

/** Tracks a Socket.IO client that reconnects by itself, rejoining the room on every connect. */
function trackSocketIo(kind: Kind, user: string, socket: AnySocket): Tracked {
  const t = track(kind, user);
  socket.on('connect', () => {
    t.connects.push(Date.now());
    socket.emit('join_room', { room_id: ROOM }, (ack: { ok: boolean }) => {
      if (ack?.ok) t.joinedAt = Date.now();
      progress.notify();
    });
  });
  socket.on('disconnect', (reason: string) => {
    t.closes.push(reason);
    t.joinedAt = undefined;
  });
  socket.on('tick', (p: { seq: number }) => received(t, p.seq));
  t.stop = () => socket.close();
  return t;
}

/** A Socket.IO v4 client with socket.io-client's own reconnection. */
const v4Client = (url: string, user: string): Tracked =>
  trackSocketIo('v4', user, ioV4(url, { auth: { token: token({ sub: user }) }, transports: ['websocket'], forceNew: true, ...BACKOFF }));

/** A Socket.IO v2 (Engine.IO 3) client, likewise. */
const v2Client = (url: string, user: string): Tracked =>
  trackSocketIo('v2', user, ioV2(url, { query: { token: token({ sub: user }) }, transports: ['websocket'], forceNew: true, ...BACKOFF }));

/**
 * A seed 002 native client (`/api/v1/ws?token=`) that reconnects by itself when its connection
 * closes or fails (100-200 ms backoff, as an application would) and rejoins the room.
 */
function nativeClient(wsBase: string, user: string): Tracked {
  const t = track('native', user);
  let stopped = false;
  let ws: WebSocket | undefined;
  let retry: NodeJS.Timeout | undefined;
  const url = `${wsBase}/api/v1/ws?token=${token({ sub: user })}`;
  const open = () => {
    const socket = new WebSocket(url);
    ws = socket;
    let opened = false;
    socket.on('open', () => {
      opened = true;
      t.connects.push(Date.now());
      socket.send(JSON.stringify({ type: 'join_room', room_id: ROOM }));
    });
    socket.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'room_state' && frame.room_id === ROOM) t.joinedAt = Date.now();
      else if (frame.type === 'tick') return received(t, frame.seq);
      else return;
      progress.notify();
    });
    socket.on('error', () => undefined);
    socket.on('close', (code, reason) => {
      if (opened) t.closes.push(`${code} ${reason.toString()}`);
      t.joinedAt = undefined;
      if (stopped) return;
      retry = setTimeout(open, 100 + Math.random() * 100);
    });
  };
  open();
  t.stop = () => {
    stopped = true;
    clearTimeout(retry);
    ws?.terminate();
  };
  return t;
}

async function api(port: number, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'X-API-Key': API_KEY, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** A pod's JSON log lines with this message. */
function logLines(pod: PodProcess, message: string): Array<Record<string, any>> {
  return pod.logs
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes(`"message":"${message}"`))
    .map((line) => JSON.parse(line));
}

/** How many timestamps at or after `from` fall in each window of `windowMs` (for failure messages). */
function perWindow(times: number[], from: number, windowMs: number): string {
  const counts: number[] = [];
  for (const at of times) if (at >= from) counts[Math.floor((at - from) / windowMs)] = (counts[Math.floor((at - from) / windowMs)] ?? 0) + 1;
  return `[${Array.from(counts, (n) => n ?? 0).join(', ')}]`;
}

/** The most timestamps falling in any window of `windowMs` (sliding). */
function peakIn(times: number[], windowMs: number): number {
  const sorted = [...times].sort((x, y) => x - y);
  let peak = 0;
  for (let lo = 0, hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi] - sorted[lo] >= windowMs) lo++;
    peak = Math.max(peak, hi - lo + 1);
  }
  return peak;
}

afterEach(() => {
  for (const t of clients.splice(0)) t.stop();
});

describe('a deploy (SIGTERM of a pod behind a Service)', () => {
  it('drains its clients to the other pods over DRAIN_MS: a bounded reconnect rate, no missed broadcast, exit 0', async () => {
    // As the image runs them (JSON log lines with timestamps): each pod logs every connection it accepts.
    const env = { REDIS_URL: redis.url, DRAIN_MS: String(DRAIN_MS), ADMIN_API_KEY: API_KEY, NODE_ENV: 'production', LOG_LEVEL: 'info', PRESENCE_BROADCAST_MAX_USERS: '10' };
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => PodProcess.start(env)));
    const service = await ServiceProxyProcess.start({ probeMs: 100 });
    try {
      // Every client connects through the Service while pod A is its only endpoint.
      await service.add(a.port);
      const wsBase = `ws://127.0.0.1:${service.port}`;
      const users = Array.from({ length: TOTAL }, (_, i) => `user${i}`);
      for (let i = 0; i < TOTAL; i += 100) {
        const batch = users.slice(i, i + 100).map((user, j) => {
          const n = i + j;
          if (n < V4_CLIENTS) return v4Client(service.url, user);
          if (n < V4_CLIENTS + V2_CLIENTS) return v2Client(service.url, user);
          return nativeClient(wsBase, user);
        });
        await progress.until(() => batch.every((t) => t.joinedAt !== undefined), 15_000, `batch ${i / 100} joined`);
      }
      expect((await api(a.port, 'GET', '/api/v1/ws/health')).connections).toBe(TOTAL);

      // The new pods join the Service; then A gets SIGTERM, as in a rolling update.
      await service.add(b.port);
      await service.add(c.port);
      let seq = 0;
      const sentAt = new Map<number, number>();
      const publish = (s: number) => {
        sentAt.set(s, Date.now());
        return api(b.port, 'POST', `/api/v1/ws/rooms/${ROOM}/broadcast`, { type: 'tick', seq: s });
      };
      // Room broadcasts all along the drain, every 250 ms, published on pod B.
      const inFlight: Array<Promise<void>> = [];
      const publishErrors: string[] = [];
      const ticker = setInterval(() => inFlight.push(publish(++seq).then(() => undefined, (err: Error) => void publishErrors.push(err.message))), 250);
      const sigtermAt = Date.now();
      const exit = a.signal('SIGTERM');
      try {
        // Every client back (connected and rejoined through the Service) within DRAIN_MS + 10 s:
        // usually 1 to 3 s after the drain, but the 1,100 clients share this process's event loop,
        // and a loaded machine slows their reconnects, not the pods' drain.
        const back = () => clients.every((t) => t.joinedAt !== undefined && t.connects.length >= 2);
        await progress.until(back, DRAIN_MS + 10_000, 'every client rejoined', () => {
          const late = clients.filter((t) => t.joinedAt === undefined || t.connects.length < 2);
          const accepted = [b, c].flatMap((p) => logLines(p, 'connected').map((l) => Date.parse(l.timestamp)));
          const closed = logLines(a, 'disconnected').map((l) => Date.parse(l.timestamp));
          return `(${late.length} not back; per 500 ms, A closed ${perWindow(closed, sigtermAt, 500)}, B and C accepted ${perWindow(accepted, sigtermAt, 500)})`;
        });
      } finally {
        clearInterval(ticker);
      }
      const allBackAfterMs = Math.max(...clients.map((t) => t.joinedAt!)) - sigtermAt;
      expect(await exit).toBe(0);
      const exitedAfterMs = Date.now() - sigtermAt;

      // A broadcast after everyone rejoined reaches every client; the ones before it, sent after a
      // client had rejoined, reached that client too (deliveries to a socket keep their order).
      await Promise.all(inFlight);
      expect(publishErrors).toEqual([]);
      const last = ++seq;
      awaitedSeq = last;
      const answer = await publish(last);
      await progress.until(() => clients.every((t) => t.seqs.has(last)), 5000, 'the last broadcast everywhere');
      expect(answer).toMatchObject({ recipients: TOTAL, partial: false });
      const missed = clients.flatMap((t) =>
        [...sentAt].filter(([s, at]) => at > t.joinedAt! && !t.seqs.has(s)).map(([s]) => `${t.user} (${t.kind}) missed tick ${s}`),
      );
      expect(missed).toEqual([]);

      // Everyone is on the pods that stay, spread by the Service.
      const [onB, onC] = await Promise.all([b, c].map(async (p) => (await api(p.port, 'GET', '/api/v1/ws/health')).connections as number));
      expect(onB + onC).toBe(TOTAL);
      expect(Math.min(onB, onC)).toBeGreaterThan(TOTAL / 4);

      // A reported not ready at once, with a 503 while it was still draining.
      const backendA = (await service.states()).find((s) => s.port === a.port)!;
      expect(backendA.unreadyProbe).toBe(503);
      expect(backendA.unreadySince! - sigtermAt).toBeLessThan(1000);

      // Socket.IO clients saw a transport close (so they reconnected by themselves), native ones 1001.
      for (const t of clients) expect(t.closes).toEqual([t.kind === 'native' ? '1001 Server shutting down' : 'transport close']);

      // The other pods saw a bounded connect rate: at most about twice the even spread, measured
      // where they accept connections (their own log timestamps).
      const accepted = [b, c].flatMap((p) => logLines(p, 'connected').map((l) => Date.parse(l.timestamp))).filter((at) => at >= sigtermAt);
      expect(accepted).toHaveLength(TOTAL);
      const perSecond = peakIn(accepted, 1000);
      const per100ms = peakIn(accepted, 100);
      const evenPerSecond = (TOTAL * 1000) / DRAIN_MS;
      const reconnects = clients.flatMap((t) => t.connects.filter((at) => at > sigtermAt));
      expect(reconnects).toHaveLength(TOTAL);
      const [drained] = logLines(a, 'connections drained');
      console.log(
        `drain of ${TOTAL} clients over DRAIN_MS=${DRAIN_MS} ms (pod A: slice ${drained?.slice}, ${drained?.elapsedMs} ms): ` +
          `pods B and C accepted them over ${Math.max(...accepted) - Math.min(...accepted)} ms, peak ${perSecond}/s ` +
          `(even ${Math.round(evenPerSecond)}/s, bound ${Math.round(2 * evenPerSecond)}/s), peak ${per100ms} per 100 ms ` +
          `(clients saw peaks of ${peakIn(reconnects, 1000)}/s and ${peakIn(reconnects, 100)} per 100 ms); ` +
          `all back after ${allBackAfterMs} ms; pod A exited 0 after ${exitedAfterMs} ms`,
      );
      expect(perSecond).toBeLessThanOrEqual(2 * evenPerSecond);
      expect(allBackAfterMs).toBeLessThan(DRAIN_MS + 10_000);
    } finally {
      for (const t of clients.splice(0)) t.stop();
      await service.close();
    }
  }, 60_000);
});

/** A connection as the drain sees it: closing it reports `close` at once, as engine.io does. */
class FakeConnection extends EventEmitter {
  readyState = 'open';
  closedAt?: number;
}

describe('the drain schedule', () => {
  const logger = createLogger({ env: 'test', logLevel: 'error', podId: 'drain-test' });
  const drain = (conns: FakeConnection[], drainMs: number) => {
    const startedAt = Date.now();
    const close = (conn: FakeConnection) => {
      conn.closedAt = Date.now() - startedAt;
      conn.readyState = 'closed';
      conn.emit('close');
    };
    return drainConnections({ connections: () => conns.filter((c) => c.readyState === 'open'), close, drainMs, settleMs: 1000, logger });
  };

  it('closes a proportional slice every 100 ms, never ahead of the schedule, and is done within DRAIN_MS', async () => {
    const conns = Array.from({ length: 200 }, () => new FakeConnection());
    const draining = drain(conns, 1000);
    // A slice of ceil(200 × 100 / 1000) = 20 at once (before drainConnections returns) ...
    expect(conns.filter((c) => c.closedAt !== undefined)).toHaveLength(20);
    const summary = await draining;
    expect(summary).toMatchObject({ connections: 200, closed: 200, unsettled: 0 });
    // ... then never more than one slice per 100 ms (a late timer catches up, never gets ahead) ...
    const times = conns.map((c) => c.closedAt!).sort((x, y) => x - y);
    times.forEach((t, i) => expect(i + 1).toBeLessThanOrEqual(20 * (Math.floor(t / 100) + 1)));
    // ... and the last slice at 900 ms (a timer may fire late on a busy machine, never early).
    expect(summary.elapsedMs).toBeGreaterThanOrEqual(850);
    expect(summary.elapsedMs).toBeLessThan(2000);
  });

  it('closes few connections one per 100 ms, and everything at once with DRAIN_MS=0', async () => {
    const few = Array.from({ length: 3 }, () => new FakeConnection());
    const summary = await drain(few, 10_000);
    expect(summary).toMatchObject({ connections: 3, closed: 3 });
    // One per 100 ms: the k-th close never before (k − 1) × 100 ms. A timer that fires late on a
    // busy machine closes the ones it missed together, so the largest slice may exceed one.
    const times = few.map((c) => c.closedAt!).sort((x, y) => x - y);
    times.forEach((t, i) => expect(i + 1).toBeLessThanOrEqual(Math.floor(t / 100) + 1));
    expect(summary.elapsedMs).toBeGreaterThanOrEqual(150);
    expect(summary.elapsedMs).toBeLessThan(2000);
    expect(await drain([], 10_000)).toMatchObject({ connections: 0, closed: 0 });
    const many = Array.from({ length: 50 }, () => new FakeConnection());
    expect(await drain(many, 0)).toMatchObject({ connections: 50, closed: 50, slice: 50 });
  });
});

describe('the end of a stop', () => {
  it('cuts an upgraded connection whose client never finishes closing, so the server closes within the grace period', async () => {
    const server = createServer();
    const tracker = new ConnectionTracker(server);
    server.on('upgrade', (_req, socket) => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    client.on('error', () => undefined);
    client.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n');
    await once(client, 'data'); // upgraded; this client will never close its side
    expect(tracker.size).toBe(1);
    const startedAt = Date.now();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await tracker.closeWithin(closed, 200, createLogger({ env: 'test', logLevel: 'error', podId: 'drain-test' }));
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(190);
    expect(Date.now() - startedAt).toBeLessThan(2000);
    await once(client, 'close'); // cut by the server
  });
});
