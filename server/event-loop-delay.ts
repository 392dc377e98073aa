import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** How often the sampler's timer is due: one wake-up of an idle event loop per period. */
export const SAMPLE_PERIOD_MS = 20;
const NS_PER_MS = 1e6;

/** Event-loop delay over a window, in milliseconds (zeros before the first sample). */
export interface DelayFigures {
  count: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

/** One reader's window of samples: read it, start it again, or stop receiving samples. */
export interface DelayWindow {
  figures(): DelayFigures;
  reset(): void;
  close(): void;
}

/**
 * Event-loop delay for every reader in the process from one timer. Node's `monitorEventLoopDelay`
 * gives each reader a timer of its own and a histogram that only its owner may reset; the
 * gateway's readers (the admin API's minute window, the `system_status` stream's interval) each
 * wanted their own, and every such timer wakes an idle pod 50 times a second. Here one timer,
 * due every SAMPLE_PERIOD_MS, measures how late it fires (what `monitorEventLoopDelay` measures)
 * and records it into each open window's histogram, which its reader resets on its own schedule.
 * The timer runs only while a window is open, and never keeps the process alive.
 */
class DelaySampler {
  private readonly windows = new Set<RecordableHistogram>();
  private timer?: NodeJS.Timeout;
  private dueAt = 0n;

  open(): DelayWindow {
    const histogram = createHistogram();
    this.windows.add(histogram);
    if (!this.timer) this.start();
    return {
      figures: () => figuresOf(histogram),
      reset: () => histogram.reset(),
      close: () => {
        this.windows.delete(histogram);
        if (this.windows.size === 0) this.stop();
      },
    };
  }

  private start(): void {
    const period = BigInt(SAMPLE_PERIOD_MS * NS_PER_MS);
    this.dueAt = process.hrtime.bigint() + period;
    this.timer = setInterval(() => {
      const now = process.hrtime.bigint();
      // A histogram records integers of at least 1: an on-time tick counts as 1 ns late.
      const late = now > this.dueAt ? Number(now - this.dueAt) : 1;
      for (const h of this.windows) h.record(late);
      this.dueAt = now + period;
    }, SAMPLE_PERIOD_MS);
    this.timer.unref();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

function figuresOf(h: RecordableHistogram): DelayFigures {
  if (h.count === 0) return { count: 0, mean: 0, p50: 0, p99: 0, max: 0 };
  const ms = (ns: number) => Math.round((ns / NS_PER_MS) * 1000) / 1000;
  return { count: h.count, mean: ms(h.mean), p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
}

let sampler: DelaySampler | undefined;

/** A window of this process's event-loop delay samples, from now until it is closed. */
export function openDelayWindow(): DelayWindow {
  sampler ??= new DelaySampler();
  return sampler.open();
}
