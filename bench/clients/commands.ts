import type { HistogramData } from '../lib/histogram';
import type { ServerKind } from './protocol';

/** The IPC commands between the harness and a load-generator worker. */
export type Command =
  | { cmd: 'connect'; group: string; kind: ServerKind; native?: boolean; url: string; room: string; from: number; count: number; concurrency: number; timeoutMs: number }
  | { cmd: 'join'; group: string; room: string; concurrency: number; timeoutMs: number }
  | { cmd: 'begin'; phase: number }
  | { cmd: 'pushes' }
  | { cmd: 'publish'; group: string; phase: number; room: string; count: number; rate: number; window: number; bytes: number; timeoutMs: number }
  | { cmd: 'await'; group: string; expected: number; timeoutMs: number }
  | { cmd: 'acks'; group: string; cellId: string; count: number; ratePerS: number; timeoutMs: number }
  | { cmd: 'abort' }
  | { cmd: 'close'; group: string };

export type Reply = object;

export interface ConnectResult {
  connected: number;
  failed: number;
  errors: string[];
  startUs: number;
  endUs: number;
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
