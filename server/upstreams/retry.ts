import { backoffDelay } from '../../shared/backoff';

/**
 * The retry rule of the AI upstream client, kept apart so that it reads as one rule: a request is
 * retried only while nothing has reached the user (before the first delta), and only for failures
 * that say "try again" (connection refused or reset, 429, 502, 503). Everything else fails at once:
 * retrying a 400 or a 401 cannot succeed, and retrying after a token would show the user the start
 * of an answer twice.
 */

/** How many times to retry and how long to wait in between. */
export interface RetryPolicy {
  /** Retries after the first attempt (0: never retry). */
  readonly attempts: number;
  /** The first wait; each further wait doubles it. */
  readonly baseDelayMs: number;
  /** No wait is longer, even when the upstream's Retry-After asks for more. */
  readonly maxDelayMs: number;
}

/** 3 retries, 200 ms doubling to at most 2 s: gives a restarting upstream about 3 s in all. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 3, baseDelayMs: 200, maxDelayMs: 2000 };

/** Statuses that mean "busy or restarting, try again", as opposed to "this request is wrong". */
const RETRYABLE_STATUSES = new Set([429, 502, 503]);

/** Whether an HTTP status (or an in-stream error's numeric code) may be retried before the first delta. */
export function isRetryableStatus(status: number | undefined): boolean {
  return status !== undefined && RETRYABLE_STATUSES.has(status);
}

/** Connection failures that mean nothing was processed: the request may be sent again. */
const RETRYABLE_CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET']);

/**
 * The system error code of a failed request: on a `node:http` error itself, under `fetch`'s
 * `TypeError('fetch failed', {cause})`, or in an AggregateError when several addresses were tried;
 * undefined when there is none.
 */
export function connectionErrorCode(err: unknown): string | undefined {
  // Duck-typed, not `instanceof`: errors may come from another realm (jest's sandbox).
  let cause: unknown = err;
  for (let depth = 0; typeof cause === 'object' && cause !== null && depth < 4; depth++) {
    const { code, errors, cause: next } = cause as { code?: unknown; errors?: unknown; cause?: unknown };
    if (typeof code === 'string') return code;
    cause = Array.isArray(errors) ? errors[0] : next;
  }
  return undefined;
}

/** Whether a connection error code says the connection was refused or reset (safe to retry). */
export function isRetryableConnectionCode(code: string | undefined): boolean {
  return code !== undefined && RETRYABLE_CONNECTION_CODES.has(code);
}

/**
 * The wait before retry number `retry` (1-based): the upstream's Retry-After when it sends one
 * (seconds or an HTTP date), else exponential backoff with jitter (between half and all of
 * `base * 2^(retry-1)`, so that many streams refused at once do not come back at once); both
 * capped at `maxDelayMs`.
 */
export function retryDelayMs(policy: RetryPolicy, retry: number, retryAfter?: string | null, now = Date.now()): number {
  const fromHeader = parseRetryAfterMs(retryAfter, now);
  if (fromHeader !== undefined) return Math.min(fromHeader, policy.maxDelayMs);
  return backoffDelay(retry - 1, { initialDelayMs: policy.baseDelayMs, maxDelayMs: policy.maxDelayMs, factor: 2, jitter: 0.5 });
}

function parseRetryAfterMs(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Waits `ms`, or rejects with the signal's reason as soon as it aborts: a cancel during a backoff
 * ends the stream at once, and the timer and listener never outlive the wait.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
