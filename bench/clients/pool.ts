import { join } from 'node:path';
import { Histogram } from '../lib/histogram';
import { shareAmong } from '../lib/pool';
import { forkChild, stopChild, type Child } from '../lib/procs';
import { WorkerRpc } from '../lib/worker-rpc';
import type { Command, ConnectResult, JoinResult, PhaseStats, PublishResult } from './commands';
import type { ServerKind } from './protocol';

/** The harness's handle on the load-generator processes (one or two, never more). */
export class ClientPool {
  /** Connected clients per worker, by group (room members for the phases). */
  private readonly members = new Map<string, number[]>();
  private readonly rpc: WorkerRpc<Command>;

  private constructor(readonly workers: Child[]) {
    this.rpc = new WorkerRpc<Command>(workers);
  }

  static start(count: number, secret: string): ClientPool {
    const script = join(__dirname, 'worker.js');
    const env = { PATH: process.env.PATH, NODE_ENV: 'production', BENCH_JWT_SECRET: secret };
    return new ClientPool(Array.from({ length: count }, (_, i) => forkChild(`client-${i}`, script, env, ['--max-old-space-size=2048'])));
  }

  /** Sends a command to one worker; rejects when it fails or `timeoutMs` (plus slack) passes. */
  request<T>(worker: number, command: Command, timeoutMs = 60_000): Promise<T> {
    return this.rpc.request<T>(worker, command, timeoutMs);
  }

  all<T>(command: (i: number) => Command, timeoutMs?: number): Promise<T[]> {
    return Promise.all(this.workers.map((_, i) => this.request<T>(i, command(i), timeoutMs)));
  }

  /**
   * Connects `total` clients split across the workers (worker i to urls[i % urls.length]); returns
   * the combined result with the first start and last completion over all workers.
   */
  async connect(group: string, kind: ServerKind, urls: string[], room: string, total: number, concurrency: number, timeoutMs: number, native = false): Promise<ConnectResult> {
    const shares = shareAmong(total, this.workers.length);
    const results = await this.all<ConnectResult>(
      (i) => ({ cmd: 'connect', group, kind, native, url: urls[i % urls.length], room, from: shares[i].from, count: shares[i].count, concurrency, timeoutMs }),
      timeoutMs * Math.ceil(total / concurrency) + 10_000,
    );
    const before = this.members.get(group) ?? results.map(() => 0);
    this.members.set(group, results.map((r, i) => before[i] + r.connected));
    return {
      connected: results.reduce((a, r) => a + r.connected, 0),
      failed: results.reduce((a, r) => a + r.failed, 0),
      errors: results.flatMap((r) => r.errors),
      startUs: Math.min(...results.map((r) => r.startUs)),
      endUs: Math.max(...results.map((r) => r.endUs)),
      cpuUs: results.reduce((a, r) => a + r.cpuUs, 0),
    };
  }

  /**
   * Joins every connection of the group to the room, the publisher (worker 0's first connection)
   * last: the room's members are written in join order, so the publisher's echo of a message comes
   * after every other member's copy, and a publisher that waits for its echo (one message in
   * flight) cannot publish the next while the gateway is still writing the last one.
   */
  async join(group: string, room: string, concurrency: number, timeoutMs: number): Promise<JoinResult> {
    const members = await this.all<JoinResult>((i) => ({ cmd: 'join', group, room, concurrency, timeoutMs, ...(i === 0 ? { only: 'members' as const } : {}) }), timeoutMs);
    const publisher = await this.request<JoinResult>(0, { cmd: 'join', group, room, concurrency: 1, timeoutMs, only: 'publisher' }, timeoutMs);
    const results = [...members, publisher];
    return {
      joined: results.reduce((a, r) => a + r.joined, 0),
      failed: results.reduce((a, r) => a + r.failed, 0),
      errors: [...new Set(results.flatMap((r) => r.errors))],
      startUs: Math.min(...results.map((r) => r.startUs)),
      endUs: Math.max(...results.map((r) => r.endUs)),
      pushes: mergePushes(results.map((r) => r.pushes)),
    };
  }

  /** Pushes received since the last join began (those still arriving after the acks count too). */
  async pushes(): Promise<JoinResult['pushes']> {
    return mergePushes(await this.all<JoinResult['pushes']>(() => ({ cmd: 'pushes' })));
  }

  /**
   * One measured phase: every worker resets, worker 0's publisher sends, every worker waits for its
   * members' deliveries. A publish failure (e.g. UNKNOWN_MESSAGE_TYPE) aborts the waits at once.
   */
  async phase(opts: { group: string; phase: number; room: string; count: number; rate: number; window: number; bytes: number; timeoutMs: number }): Promise<PhaseResult> {
    const members = this.members.get(opts.group) ?? [];
    await this.all(() => ({ cmd: 'begin', phase: opts.phase }));
    const waits = this.all<PhaseStats>((i) => ({ cmd: 'await', group: opts.group, expected: (members[i] ?? 0) * opts.count, timeoutMs: opts.timeoutMs }), opts.timeoutMs);
    const pub = await this.request<PublishResult>(0, { cmd: 'publish', group: opts.group, phase: opts.phase, room: opts.room, count: opts.count, rate: opts.rate, window: opts.window, bytes: opts.bytes, timeoutMs: opts.timeoutMs }, opts.timeoutMs);
    if (pub.error) await this.all(() => ({ cmd: 'abort' }));
    const stats = await waits;
    const merged = mergePhaseStats(stats);
    return {
      publish: pub,
      received: merged.received,
      expected: members.reduce((a, m) => a + m, 0) * pub.sent,
      hist: merged.hist,
      lastUs: merged.lastUs,
      clientUtilMax: merged.clientUtilMax,
      errors: merged.events,
      closed: stats.reduce((a, s) => a + s.closed, 0),
    };
  }

  close(group: string): Promise<unknown> {
    this.members.delete(group);
    return this.all(() => ({ cmd: 'close', group }), 10_000);
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => stopChild(w)));
  }
}

export interface PhaseResult {
  publish: PublishResult;
  received: number;
  expected: number;
  hist: Histogram;
  lastUs: number;
  /** The busiest worker's CPU share over the phase. */
  clientUtilMax: number;
  errors: Record<string, number>;
  closed: number;
}

function mergePushes(all: Array<JoinResult['pushes']>): JoinResult['pushes'] {
  const out: JoinResult['pushes'] = {};
  for (const p of all) {
    for (const [k, v] of Object.entries(p)) {
      const o = (out[k] ??= { frames: 0, bytes: 0 });
      o.frames += v.frames;
      o.bytes += v.bytes;
    }
  }
  return out;
}

/** The workers' views of one phase, together: latencies, event counts, deliveries, the last receipt, the busiest worker. */
export interface MergedPhase {
  readonly hist: Histogram;
  /** `error:<code>` and unexpected `event:<name>` counts, summed. */
  readonly events: Record<string, number>;
  readonly received: number;
  readonly lastUs: number;
  /** The busiest worker's CPU share over the phase (a client bottleneck shows here). */
  readonly clientUtilMax: number;
}

export function mergePhaseStats(stats: readonly PhaseStats[]): MergedPhase {
  const hist = new Histogram();
  const events: Record<string, number> = {};
  for (const s of stats) {
    hist.merge(s.hist);
    for (const [k, v] of Object.entries(s.errors)) events[k] = (events[k] ?? 0) + v;
  }
  return {
    hist,
    events,
    received: stats.reduce((a, s) => a + s.received, 0),
    lastUs: Math.max(...stats.map((s) => s.lastUs)),
    clientUtilMax: Math.max(...stats.map((s) => s.cpuUs / s.wallUs)),
  };
}

/** Fails the phase on any `error:` event; warns about other unexpected events. */
export function checkPhaseEvents(events: Record<string, number>, label: string, warn: (message: string) => void): void {
  if (Object.keys(events).some((k) => k.startsWith('error:'))) throw new Error(`error events during the phase: ${JSON.stringify(events)}`);
  if (Object.keys(events).length) warn(`${label}: unexpected events during a phase: ${JSON.stringify(events)}`);
}
