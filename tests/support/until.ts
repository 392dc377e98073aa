import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Resolves once `check` holds, checking it every `everyMs`; rejects with `what` after `timeoutMs`.
 * For a state that no event announces (a pod's readiness across a Redis restart, a sample that
 * needs time to pass); where an event can be awaited, await it instead.
 */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(everyMs);
  }
}
