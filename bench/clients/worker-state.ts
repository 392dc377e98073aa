import { Histogram } from '../lib/histogram';
import { nowUs } from '../lib/stats';
import type { Conn, ConnSink, Mode } from './conn';
import type { ServerKind } from './protocol';

/**
 * A load-generator process's state: its connection groups, the counters of the phase being
 * measured, and the wake-ups that let the publisher and the waiters sleep without polling.
 */
export interface Group {
  kind: ServerKind;
  mode: Mode;
  conns: Conn[];
  closed: number;
}
/** Connections by group: one group per server under test, so servers can alternate phases. */
export const groups = new Map<string, Group>();
export function group(name: string): Group {
  const g = groups.get(name);
  if (!g) throw new Error(`no client group ${name}`);
  return g;
}

export const state = {
  phase: 0,
  hist: new Histogram(),
  received: 0,
  echoes: 0,
  firstUs: 0,
  lastUs: 0,
  errors: {} as Record<string, number>,
  cpu0: process.cpuUsage(),
  wall0: nowUs(),
  expected: Infinity,
  /** Ignored pushes since the last join or phase began: frames and bytes per event name. */
  pushes: {} as Record<string, { frames: number; bytes: number }>,
};

const waiters = new Set<() => void>();
export function wakeAll(): void {
  for (const w of waiters) w();
  waiters.clear();
}
/** Sleeps until something arrives or `ms` pass. */
export function nap(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      waiters.delete(done);
      resolve();
    }
    waiters.add(done);
  });
}

export function sinkFor(g: Group, index: number): ConnSink {
  return {
    delivery(tsUs, phase) {
      if (phase !== state.phase) return;
      const now = nowUs();
      state.hist.record(now - tsUs);
      if (state.received++ === 0) state.firstUs = now;
      state.lastUs = now;
      if (index === 0) state.echoes++;
      // Wake the publisher on its own echo, the waiter once its count is reached; not per delivery.
      if (index === 0 || state.received >= state.expected) wakeAll();
    },
    event(name, payload) {
      const code = (payload as { code?: string } | undefined)?.code;
      const key = name === 'error' ? `error:${code ?? 'unknown'}` : `event:${name}`;
      state.errors[key] = (state.errors[key] ?? 0) + 1;
      wakeAll();
    },
    ignored(name, bytes) {
      const p = (state.pushes[name] ??= { frames: 0, bytes: 0 });
      p.frames++;
      p.bytes += bytes;
    },
    closed() {
      g.closed++;
      wakeAll();
    },
  };
}

/** Keeps the first few distinct error messages. */
export function pushError(errors: string[], message: string): void {
  if (errors.length < 3 && !errors.includes(message)) errors.push(message);
}


