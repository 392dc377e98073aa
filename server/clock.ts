let isoMs = Number.NaN;
let isoText = '';

/**
 * `new Date().toISOString()`, made at most once per millisecond: the timestamps of events sent in
 * the same millisecond (many AI streams' deltas, native frames) share one string, which is the
 * same either way.
 */
export function isoNow(now = Date.now()): string {
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}
