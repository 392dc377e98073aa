import type { HistogramData } from '../lib/histogram';
import type { ServerKind } from './protocol';

/** The IPC commands between the harness and a load-generator worker. */
export type Command =
  | { cmd: 'connect'; group: string; kind: ServerKind; native?: boolean; url: string; room: string; from: number; count: number; concurrency: number; timeoutMs: number }
  /** `publisher`: only the group's publisher (its first connection) joins; `members`: all but it. */
  | { cmd: 'join'; group: string; room: string; concurrency: number; timeoutMs: number; only?: 'publisher' | 'members' }
  | { cmd: 'begin'; phase: number }
  | { cmd: 'pushes' }
  | { cmd: 'publish'; group: string; phase: number; room: string; count: number; rate: number; window: number; bytes: number; timeoutMs: number }
  | { cmd: 'await'; group: string; expected: number; timeoutMs: number }
  | { cmd: 'acks'; group: string; cellId: string; count: number; ratePerS: number; timeoutMs: number }
  | { cmd: 'paced'; group: string; cellPrefix: string; ratePerS: number; seconds: number }
  | { cmd: 'flood'; kind: ServerKind; url: string; room: string; userIndex: number; connections: number; ratePerS: number; seconds: number; connectTimeoutMs: number }
  | { cmd: 'abort' }
  | { cmd: 'close'; group: string }
  | { cmd: 'streams_connect'; group: string; mode: 'stream' | 'room'; url: string; from: number; count: number; values: number; streamType: string; filterPath: string; roomPrefix: string; event: string; concurrency: number; timeoutMs: number }
  | { cmd: 'streams_counts'; group: string; phase: number };

export type Reply = object;

export interface ConnectResult {
  connected: number;
  failed: number;
  errors: string[];
  startUs: number;
  endUs: number;
  /** The client process's CPU time (user + system) from startUs to endUs; summed over the workers by the pool. */
  cpuUs: number;
}

export interface JoinResult {
  joined: number;
  failed: number;
  errors: string[];
  startUs: number;
  endUs: number;
  /** Server pushes received during the join phase (room_state, user_joined), frames and bytes. */
  pushes: Record<string, { frames: number; bytes: number }>;
}

export interface PublishResult {
  sent: number;
  startUs: number;
  endUs: number;
  error?: string;
}

/** The streams scenario: clients connected and subscribed (stream) or joined (room). */
export interface StreamsConnectResult {
  ready: number;
  failed: number;
  errors: string[];
  startUs: number;
  endUs: number;
}

/** The streams scenario: per client of the worker's group, its filter value and its deliveries of a phase (right value / another value). */
export interface StreamsCountsResult {
  values: number[];
  counts: number[];
  wrong: number[];
}

/** One worker's view of a measured phase. */
export interface PhaseStats {
  received: number;
  hist: HistogramData;
  firstUs: number;
  lastUs: number;
  /** The worker's own CPU time over the phase (to detect a client bottleneck). */
  cpuUs: number;
  wallUs: number;
  /** Counts of `error:<code>` and unexpected `event:<name>`. */
  errors: Record<string, number>;
  closed: number;
}

/** Acked requests at a steady rate from one connection (scenario 6). */
export interface AckResult {
  hist: HistogramData;
  done: number;
  errors: string[];
  cpuUs: number;
  wallUs: number;
}

/**
 * The flood scenario's well-behaved users: every member of a group sends acked cell updates in
 * turn, `ratePerS` in all; latency from each request's scheduled send time to its ack.
 */
export interface PacedResult {
  hist: HistogramData;
  sent: number;
  ok: number;
  /** Refusals and other failures, by error code (`timeout` when no ack came within 10 s). */
  failed: Record<string, number>;
  /** Connections of the group that closed during the phase. */
  closed: number;
  cpuUs: number;
  wallUs: number;
  /** The phase on the shared monotonic clock (nowUs). */
  startUs: number;
  endUs: number;
}

/** The flood scenario's abuser: request-class frames sent as fast as allowed, and what became of them. */
export interface FloodResult {
  sent: number;
  /** Acked `{ok: true}`. */
  served: number;
  /** Acked with an error, by code. */
  refused: Record<string, number>;
  /** Sent on a connection that closed before the ack came. */
  unanswered: number;
  /** Connections the server closed. */
  disconnects: number;
  /** `error` events received (e.g. the notice before a rate-limit disconnect), by code. */
  errorEvents: Record<string, number>;
  /** Connection attempts after the first ones, and how many were accepted / refused (by reason). */
  reconnectAttempts: number;
  reconnected: number;
  connectFailures: Record<string, number>;
  /** join_room acks: ok and refused (by code). */
  joinsOk: number;
  joinsRefused: Record<string, number>;
  /** Milliseconds from the first frame to the first disconnect (-1: none). */
  firstDisconnectMs: number;
  /** Time spent flooding: from the first frame to the last moment frames were sent (nowUs). */
  floodUs: number;
  firstFrameUs: number;
  floodEndUs: number;
  cpuUs: number;
  wallUs: number;
}
