import jwt from 'jsonwebtoken';
import { nowUs } from '../lib/stats';
import { Conn } from './conn';
import type { Command, StreamsConnectResult, StreamsCountsResult } from './commands';
import { pool } from '../lib/pool';
import { groups, pushError, state, wakeAll, type Group } from './worker-state';

/**
 * The streams scenario's clients (bench/scenarios/streams.ts), one group per path:
 * - `stream`: Socket.IO on `/streams`, each client one `subscribe {type, filters: {<path>: v}}`
 *   (acked with a subscription_id) and every `data` event a delivery;
 * - `room`: Socket.IO on `/`, each client `join_room` of room `<roomPrefix><v>` (acked) and every
 *   `<event>` (a REST room broadcast) a delivery; the scenario gives this path one value, so every
 *   client is in room `<roomPrefix>0` and every item is meant for every client.
 * Client k of the scenario (global index) has value v = k % values. Every item's stamp carries
 * `p = phase * VALUE_SPAN + value` (the item's own filter value), so each delivery is counted per
 * client and checked against the client's value without parsing the frame: a delivery of another
 * value is counted as wrong (misrouted), not as received for the client.
 */
export const VALUE_SPAN = 16;

interface Tally {
  values: number[];
  counts: number[];
  wrong: number[];
  phase: number;
}
const tallies = new Map<string, Tally>();

type ConnectCmd = Extract<Command, { cmd: 'streams_connect' }>;

export async function streamsConnect(c: ConnectCmd): Promise<StreamsConnectResult> {
  const g: Group = { kind: 'gateway', mode: 'sio', conns: [], closed: 0 };
  groups.set(c.group, g);
  const t: Tally = { values: Array.from({ length: c.count }, (_, k) => (c.from + k) % c.values), counts: new Array(c.count).fill(0), wrong: new Array(c.count).fill(0), phase: -1 };
  tallies.set(c.group, t);
  const secret = process.env.BENCH_JWT_SECRET ?? '';
  const tokens = Array.from({ length: c.count }, (_, k) => jwt.sign({ sub: `streams-user-${c.from + k}`, name: `Streams user ${c.from + k}` }, secret, { algorithm: 'HS256', expiresIn: '1h' }));
  const stream = c.mode === 'stream';
  let failed = 0;
  const errors: string[] = [];
  const startUs = nowUs();
  await pool(c.count, c.concurrency, async (k) => {
    const conn = new Conn(
      {
        url: `${c.url}/socket.io/?EIO=4&transport=websocket`,
        mode: 'sio',
        namespace: stream ? '/streams' : '/',
        auth: { token: tokens[k] },
        userId: `streams-user-${c.from + k}`,
        receiveEvent: stream ? 'data' : c.event,
        ignoredEvents: stream ? [] : ['room_state', 'user_joined', 'user_left'],
        timeoutMs: c.timeoutMs,
      },
      {
        delivery(tsUs, p) {
          const phase = Math.floor(p / VALUE_SPAN);
          if (phase !== state.phase) return;
          if (t.phase !== phase) {
            t.phase = phase;
            t.counts.fill(0);
            t.wrong.fill(0);
          }
          if (p % VALUE_SPAN === t.values[k]) t.counts[k]++;
          else t.wrong[k]++;
          const now = nowUs();
          state.hist.record(now - tsUs);
          if (state.received++ === 0) state.firstUs = now;
          state.lastUs = now;
          if (state.received >= state.expected) wakeAll();
        },
        event(name, payload) {
          const code = (payload as { code?: string } | undefined)?.code;
          const key = name === 'error' ? `error:${code ?? 'unknown'}` : `event:${name}`;
          state.errors[key] = (state.errors[key] ?? 0) + 1;
          wakeAll();
        },
        ignored: () => undefined,
        closed() {
          g.closed++;
          wakeAll();
        },
      },
    );
    try {
      await conn.open();
      g.conns.push(conn);
      const v = t.values[k];
      const ack = await new Promise<unknown>((resolve) => {
        const timer = setTimeout(() => resolve({ error: { code: 'ack timeout' } }), c.timeoutMs);
        const done = (r: unknown) => {
          clearTimeout(timer);
          resolve(r);
        };
        if (stream) conn.emit('subscribe', { type: c.streamType, filters: { [c.filterPath]: v } }, done);
        else conn.join('join_room', `${c.roomPrefix}${v}`, done);
      });
      const a = ack as { ok?: boolean; subscription_id?: unknown; error?: { code?: string } } | undefined;
      const good = stream ? a?.ok === true && typeof a.subscription_id === 'string' : a?.ok === true;
      if (!good) throw new Error(`${stream ? 'subscribe' : 'join_room'} refused: ${a?.error?.code ?? JSON.stringify(ack).slice(0, 120)}`);
    } catch (err) {
      failed++;
      pushError(errors, (err as Error).message);
    }
  });
  return { ready: c.count - failed, failed, errors, startUs, endUs: nowUs() };
}

/** Per-client counts of the phase (zeros when nothing of that phase arrived). */
export function streamsCounts(c: Extract<Command, { cmd: 'streams_counts' }>): StreamsCountsResult {
  const t = tallies.get(c.group);
  if (!t) throw new Error(`no streams group ${c.group}`);
  const same = t.phase === c.phase;
  return { values: t.values, counts: same ? t.counts : t.counts.map(() => 0), wrong: same ? t.wrong : t.wrong.map(() => 0) };
}

export function streamsClose(group: string): void {
  tallies.delete(group);
}
