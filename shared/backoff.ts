/**
 * Waits that grow: exponential, capped, with jitter so that many waiters do not return together
 * (a pod's clients reconnecting, many AI streams refused at once retrying). The clients' reconnection
 * and the server's upstream retries use this one formula.
 */
export interface BackoffOptions {
  /** The first delay (500 ms). */
  readonly initialDelayMs?: number;
  /** The cap (30 s, as seed 001's "1-30 seconds"). */
  readonly maxDelayMs?: number;
  /** Growth per failed attempt (2). */
  readonly factor?: number;
  /** 0..1: the delay is reduced by up to this fraction at random (0.5). */
  readonly jitter?: number;
}

/** The delay before attempt `attempt` (0: the first wait), between `(1 - jitter)` and all of the capped exponential. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  const factor = options.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  const base = Math.min(max, initial * Math.pow(factor, Math.min(attempt, 64)));
  return Math.round(base * (1 - jitter * random()));
}
