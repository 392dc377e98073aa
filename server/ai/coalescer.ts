import type { StreamDelta, ToolCallDelta } from '../upstreams/chat-completions';

/** What one flush carries: the deltas that arrived since the last one, concatenated. */
export interface CoalescedDelta {
  readonly content: string;
  readonly reasoning: string;
  /** Tool-call pieces merged per index (ids and names kept, argument pieces concatenated). */
  readonly toolCalls: readonly ToolCallDelta[];
}

/** The tool calls of a flush that has none (shared: nothing downstream mutates a delta). */
const NO_TOOL_CALLS: readonly ToolCallDelta[] = Object.freeze([]);

/**
 * Coalesces a stream's deltas to at most one flush per interval: an upstream emitting a token
 * every few milliseconds would otherwise cost one event per token per recipient. Nothing is lost
 * or reordered: the concatenation of the flushed content equals the concatenation of the deltas.
 * The first delta is flushed at once (time to first token matters), later ones on the interval.
 *
 * With an interval of 0 nothing waits, but the deltas parsed from one upstream read (the delta
 * callbacks of one I/O callback) still leave as one flush, in a microtask: a gateway that fell
 * behind catches up with one event per read instead of one per token, at no added latency.
 */
export class DeltaCoalescer {
  private content = '';
  private reasoning = '';
  private tools = new Map<number, { id?: string; name?: string; arguments: string }>();
  private timer?: NodeJS.Timeout;
  private lastFlush = 0;
  /** Interval 0: a flush is queued for the end of the current I/O callback. */
  private queued = false;
  private readonly flushQueued = (): void => {
    this.queued = false;
    this.flush();
  };

  constructor(
    private readonly intervalMs: number,
    private readonly flushTo: (delta: CoalescedDelta) => void,
  ) {}

  add(delta: StreamDelta): void {
    if (delta.content) this.content += delta.content;
    if (delta.reasoning) this.reasoning += delta.reasoning;
    if (delta.toolCalls) {
      for (const call of delta.toolCalls) {
        const t = this.tools.get(call.index) ?? { arguments: '' };
        if (call.id) t.id = call.id;
        if (call.name) t.name = (t.name ?? '') + call.name;
        if (call.arguments) t.arguments += call.arguments;
        this.tools.set(call.index, t);
      }
    }
    if (this.intervalMs <= 0) {
      if (!this.queued) {
        this.queued = true;
        queueMicrotask(this.flushQueued);
      }
      return;
    }
    const wait = this.lastFlush + this.intervalMs - Date.now();
    if (wait <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), wait);
  }

  /** Sends what is pending now (called on every interval and before the stream's last event). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.content && !this.reasoning && this.tools.size === 0) return;
    let toolCalls: readonly ToolCallDelta[] = NO_TOOL_CALLS;
    if (this.tools.size) {
      toolCalls = [...this.tools].map(([index, t]) => ({ index, ...(t.id ? { id: t.id } : {}), ...(t.name ? { name: t.name } : {}), arguments: t.arguments }));
      this.tools = new Map();
    }
    const delta = { content: this.content, reasoning: this.reasoning, toolCalls };
    this.content = '';
    this.reasoning = '';
    if (this.intervalMs > 0) this.lastFlush = Date.now();
    this.flushTo(delta);
  }

  /** Drops the pending timer (the stream ended; call flush() first to keep what is pending). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
