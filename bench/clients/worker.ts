import jwt from 'jsonwebtoken';
import { Histogram } from '../lib/histogram';
import { nowUs } from '../lib/stats';
import { Conn, type Mode } from './conn';
import { flood, paced } from './flood';
import { streamsClose, streamsConnect, streamsCounts } from './streams';
import { cellUpdate, chatSpecOf, content, NATIVE_PATH } from './protocol';
import type { AckResult, Command, PhaseStats, Reply } from './commands';
import { pool } from '../lib/pool';
import { group, groups, nap, pushError, sinkFor, state, wakeAll } from './worker-state';
import { serveCommands } from '../lib/worker-rpc';

/**
 * A load-generator process, driven by the harness over IPC. It holds up to a few thousand lean
 * connections to one server; connection 0 of worker 0 is the publisher (a member of the room).
 * Every wait is bounded by a timeout from the command; the process exits when the harness goes.
 */
async function connect(c: Extract<Command, { cmd: 'connect' }>): Promise<Reply> {
  let g = groups.get(c.group);
  const mode: Mode = c.kind === 'ws' ? 'raw' : c.native ? 'native' : 'sio';
  if (!g) groups.set(c.group, (g = { kind: c.kind, mode, conns: [], closed: 0 }));
  const conns = g.conns;
  const spec = chatSpecOf(c.kind);
  const sio = mode !== 'raw';
  const secret = process.env.BENCH_JWT_SECRET ?? '';
  // Tokens are signed before the clock starts: the storm measures the server, not the signing.
  const tokens = Array.from({ length: c.count }, (_, i) =>
    sio ? jwt.sign({ sub: `user-${c.from + i}`, name: `User ${c.from + i}` }, secret, { algorithm: 'HS256', expiresIn: '1h' }) : '',
  );
  const urlOf = (i: number) =>
    mode === 'sio' ? `${c.url}/socket.io/?EIO=4&transport=websocket` : mode === 'native' ? `${c.url}${NATIVE_PATH}?token=${tokens[i]}` : `${c.url}/?room=${encodeURIComponent(c.room)}`;
  let failed = 0;
  const errors: string[] = [];
  const cpu0 = process.cpuUsage();
  const startUs = nowUs();
  await pool(c.count, c.concurrency, async (i) => {
    const conn = new Conn(
      {
        url: urlOf(i),
        mode,
        namespace: spec.namespace,
        auth: mode === 'sio' ? { token: tokens[i] } : undefined,
        userId: `user-${c.from + i}`,
        receiveEvent: spec.receiveEvent,
        ignoredEvents: spec.ignoredEvents,
        timeoutMs: c.timeoutMs,
      },
      sinkFor(g, conns.length),
    );
    try {
      conns.push(conn);
      await conn.open();
    } catch (err) {
      conns.splice(conns.indexOf(conn), 1);
      failed++;
      pushError(errors, (err as Error).message);
    }
  });
  const endUs = nowUs();
  const cpu = process.cpuUsage(cpu0);
  return { connected: c.count - failed, failed, errors, startUs, endUs, cpuUs: cpu.user + cpu.system };
}

async function join(c: Extract<Command, { cmd: 'join' }>): Promise<Reply> {
  const { kind, conns: all } = group(c.group);
  const conns = c.only === 'publisher' ? all.slice(0, 1) : c.only === 'members' ? all.slice(1) : all;
  const spec = chatSpecOf(kind);
  const startUs = nowUs();
  const deadline = Date.now() + c.timeoutMs; // bounds the whole join phase, not each join
  if (c.only !== 'publisher') state.pushes = {}; // the publisher's join continues the members' phase
  let failed = 0;
  const errors: string[] = [];
  await pool(conns.length, c.concurrency, (i) =>
    new Promise<void>((resolve) => {
      let settled = false;
      const settle = (error?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          failed++;
          pushError(errors, error);
        }
        resolve();
      };
      const timer = setTimeout(() => settle(`join not acked within ${c.timeoutMs} ms of the join phase`), Math.max(1, deadline - Date.now()));
      conns[i].join(spec.joinEvent, c.room, (r) => {
        const res = r as { ok?: boolean; error?: { code?: string } } | undefined;
        settle(res?.ok ? undefined : `join refused: ${res?.error?.code ?? JSON.stringify(r)}`);
      });
    }),
  );
  return { joined: conns.length - failed, failed, errors, startUs, endUs: nowUs(), pushes: state.pushes };
}

function begin(phase: number): Reply {
  Object.assign(state, { phase, hist: new Histogram(), received: 0, echoes: 0, firstUs: 0, lastUs: 0, errors: {}, cpu0: process.cpuUsage(), wall0: nowUs() });
  return {};
}

/** Publishes `count` messages: at `rate` per second, or (rate 0) with at most `window` not yet echoed. */
async function publish(c: Extract<Command, { cmd: 'publish' }>): Promise<Reply> {
  const { kind, conns } = group(c.group);
  const pub = conns[0];
  if (!pub) return { error: 'no publisher connection' };
  const spec = chatSpecOf(kind);
  const send = () => {
    const text = content(nowUs(), c.phase, c.bytes);
    if (kind === 'ws') pub.sendRaw(JSON.stringify({ room_id: c.room, content: text }));
    else pub.emit(spec.publishEvent, spec.payload(c.room, text));
  };
  const deadline = Date.now() + c.timeoutMs;
  const startUs = nowUs();
  let sent = 0;
  const failure = () => Object.keys(state.errors).find((k) => k.startsWith('error:'));
  while (sent < c.count) {
    const bad = failure();
    if (bad) return { sent, startUs, endUs: nowUs(), error: `${bad} (${JSON.stringify(state.errors)})` };
    if (Date.now() > deadline) return { sent, startUs, endUs: nowUs(), error: `publish timed out after ${sent} messages` };
    if (c.rate > 0) {
      const dueUs = startUs + (sent * 1e6) / c.rate;
      const waitMs = (dueUs - nowUs()) / 1000;
      if (waitMs > 0.5) await new Promise((r) => setTimeout(r, Math.floor(waitMs)));
      else {
        send();
        sent++;
      }
    } else if (sent - state.echoes < c.window) {
      send();
      sent++;
    } else {
      await nap(200);
    }
  }
  // Done when the publisher has its own copies back (or an error event, or the deadline).
  while (state.echoes < sent && !failure() && Date.now() < deadline) await nap(200);
  const bad = failure();
  if (bad) return { sent, startUs, endUs: nowUs(), error: `${bad} (${JSON.stringify(state.errors)})` };
  return { sent, startUs, endUs: nowUs() };
}

async function awaitDeliveries(c: Extract<Command, { cmd: 'await' }>): Promise<PhaseStats> {
  const deadline = Date.now() + c.timeoutMs;
  state.expected = c.expected;
  while (state.received < c.expected && Date.now() < deadline && !aborted) {
    await nap(100);
  }
  aborted = false;
  state.expected = Infinity;
  const cpu = process.cpuUsage(state.cpu0);
  return {
    received: state.received,
    hist: state.hist.toData(),
    firstUs: state.firstUs,
    lastUs: state.lastUs,
    cpuUs: cpu.user + cpu.system,
    wallUs: nowUs() - state.wall0,
    errors: state.errors,
    closed: groups.get(c.group)?.closed ?? 0,
  };
}

/**
 * Sends `count` cell updates at a steady `ratePerS`, each to a cell of its own (so none waits for
 * the previous ack's version), and records each ack's round trip from its scheduled send time.
 */
async function acks(c: Extract<Command, { cmd: 'acks' }>): Promise<AckResult> {
  const conn = group(c.group).conns[0];
  const hist = new Histogram();
  const errors: string[] = [];
  const cpu0 = process.cpuUsage();
  const wall0 = nowUs();
  const deadline = Date.now() + c.timeoutMs;
  const intervalUs = 1e6 / c.ratePerS;
  let done = 0;
  const pending: Array<Promise<void>> = [];
  for (let i = 0; conn && i < c.count && errors.length < 3 && Date.now() < deadline; i++) {
    const due = wall0 + i * intervalUs;
    const wait = (due - nowUs()) / 1000;
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t0 = nowUs();
    pending.push(
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          errors.push('ack timeout');
          resolve();
        }, 10_000);
        conn.emit(cellUpdate.event, cellUpdate.payload(`${c.cellId}-${i}`, i, 0), (ack) => {
          clearTimeout(timer);
          if ((ack as { ok?: boolean } | undefined)?.ok && cellUpdate.versionOf(ack) !== undefined) {
            hist.record(nowUs() - t0);
            done++;
          } else errors.push(JSON.stringify(ack).slice(0, 200));
          resolve();
        });
      }),
    );
  }
  await Promise.all(pending);
  if (!conn) errors.push('no connection');
  const cpu = process.cpuUsage(cpu0);
  return { hist: hist.toData(), done, errors, cpuUs: cpu.user + cpu.system, wallUs: nowUs() - wall0 };
}

let aborted = false;

async function handle(c: Command): Promise<Reply> {
  switch (c.cmd) {
    case 'connect':
      return connect(c);
    case 'join':
      return join(c);
    case 'begin':
      return begin(c.phase);
    case 'publish':
      return publish(c);
    case 'await':
      return awaitDeliveries(c);
    case 'acks':
      return acks(c);
    case 'paced':
      return paced(c, group(c.group));
    case 'flood':
      return flood(c);
    case 'pushes':
      return state.pushes;
    case 'abort':
      aborted = true;
      wakeAll();
      return {};
    case 'streams_connect':
      return streamsConnect(c);
    case 'streams_counts':
      return streamsCounts(c);
    case 'close':
      for (const conn of groups.get(c.group)?.conns ?? []) conn.close();
      groups.delete(c.group);
      streamsClose(c.group);
      return {};
  }
}

serveCommands(handle);
