/** Runs `count` tasks with at most `limit` in flight. */
export async function pool(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
}

/** A contiguous part of `total` items: [from, from + count). */
export interface Share {
  readonly from: number;
  readonly count: number;
}

/** `total` items split among `workers` in contiguous shares as even as can be (the first ones one larger). */
export function shareAmong(total: number, workers: number): Share[] {
  const out: Share[] = [];
  let from = 0;
  for (let w = 0; w < workers; w++) {
    const count = Math.floor(total / workers) + (w < total % workers ? 1 : 0);
    out.push({ from, count });
    from += count;
  }
  return out;
}
