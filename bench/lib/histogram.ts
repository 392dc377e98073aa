/**
 * A small latency histogram in microseconds: exact below 100 µs, then buckets 2% wide up to about
 * 100 s. Fixed bucket edges let client processes send sparse counts that the harness merges.
 */
const LINEAR = 100;
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = LINEAR + Math.ceil(Math.log(1e8 / LINEAR) / LOG_GROWTH) + 1;

function bucketOf(us: number): number {
  if (us < LINEAR) return Math.max(0, Math.floor(us));
  return Math.min(BUCKETS - 1, LINEAR + Math.floor(Math.log(us / LINEAR) / LOG_GROWTH));
}

/** The value a bucket stands for: its lower edge (upper edge of the linear part is exact). */
function valueOf(bucket: number): number {
  return bucket < LINEAR ? bucket : LINEAR * Math.pow(GROWTH, bucket - LINEAR);
}

/** Sparse form sent between processes: [bucket, count] pairs, plus the exact max. */
export interface HistogramData {
  pairs: Array<[number, number]>;
  count: number;
  maxUs: number;
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  maxUs = 0;

  record(us: number): void {
    this.counts[bucketOf(us)]++;
    this.count++;
    if (us > this.maxUs) this.maxUs = us;
  }

  merge(data: HistogramData): void {
    for (const [b, c] of data.pairs) this.counts[b] += c;
    this.count += data.count;
    this.maxUs = Math.max(this.maxUs, data.maxUs);
  }

  /** The q-quantile (0..1) in microseconds, or NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b];
      if (seen >= rank) return Math.min(valueOf(b), this.maxUs);
    }
    return this.maxUs;
  }

  toData(): HistogramData {
    const pairs: Array<[number, number]> = [];
    for (let b = 0; b < BUCKETS; b++) if (this.counts[b]) pairs.push([b, this.counts[b]]);
    return { pairs, count: this.count, maxUs: this.maxUs };
  }
}
