import { ErrorCodes, GatewayError } from '../../shared/errors';
import { isRecord } from '../../shared/records';
import type { StreamDelta, StreamResult, ToolCall, ToolCallDelta } from './chat-completions';
import { isRetryableStatus } from './retry';

/**
 * A failed attempt, with what the retry rule needs to know: whether it may be retried (before the
 * first delta only) and the upstream's Retry-After. The client throws `error` when it gives up.
 */
export class AttemptFailure extends Error {
  constructor(
    readonly error: GatewayError,
    readonly retryable: boolean,
    readonly retryAfter?: string | null,
    /** For the log: the connection error code (ECONNREFUSED, ...), when there is one. */
    readonly connectionCode?: string,
  ) {
    super(error.message);
    this.name = 'AttemptFailure';
  }
}

type Json = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Upstream text that may reach a client: bounded, and never carrying the API key. */
export function upstreamText(text: string, apiKey: string | undefined, max = 300): string {
  const clean = apiKey ? text.split(apiKey).join('[redacted]') : text;
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** The numeric status of an error object (`code` or `status`, number or numeric string), if any. */
function errorStatus(error: Json): number | undefined {
  for (const v of [error.code, error.status]) {
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    if (typeof v === 'string' && /^\d{3}$/.test(v)) return Number(v);
  }
  return undefined;
}

/** The text of an upstream error body: OpenAI's `{error:{message}}`, or `{message}`, `{detail}`, `{error: "..."}`. */
export function errorMessageOf(body: unknown): string | undefined {
  if (!isRecord(body)) return undefined;
  const error = body.error;
  if (isRecord(error) && typeof error.message === 'string') return error.message;
  for (const v of [error, body.message, body.detail]) if (typeof v === 'string' && v) return v;
  return undefined;
}

/**
 * One attempt's stream state: turns the `data:` payloads of Chat Completions chunks into deltas
 * for `onDelta` (synchronously, in arrival order) and accumulates exactly what it delivered, so
 * the result's content and reasoning are the concatenation of the deltas by construction.
 *
 * Dialects accepted: reasoning as `reasoning_content` (vLLM, DeepSeek) or `reasoning` (Ollama,
 * OpenRouter); tool-call arguments streamed in pieces per `index` (id and name are kept from
 * their first non-empty appearance; a call without id gets `call_<index>`); a final chunk with
 * empty `choices` and the `usage`. A failure (malformed line, error object) stops delivery: later
 * events are ignored and the client throws `failure`.
 */
export class ChunkAccumulator {
  /** A delta reached `onDelta`: from now on nothing may be retried. */
  delivered = false;
  /** `data: [DONE]` arrived. */
  done = false;
  failure?: AttemptFailure;
  private content = '';
  private reasoning = '';
  private readonly tools = new Map<number, ToolCall>();
  private finishReason: string | null = null;
  private usage?: StreamResult['usage'];
  private model?: string;

  constructor(
    private readonly onDelta: (delta: StreamDelta) => void,
    private readonly apiKey: string | undefined,
  ) {}

  /** Whether the stream reached a proper end ([DONE] or a finish_reason). */
  get finished(): boolean {
    return this.done || this.finishReason !== null;
  }

  /** One server-sent event. Throws only what `onDelta` throws. */
  handle(data: string, event?: string): void {
    if (this.done || this.failure) return;
    if (data === '[DONE]') {
      this.done = true;
      return;
    }
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      chunk = undefined;
    }
    if (!isRecord(chunk)) {
      this.malformed();
      return;
    }
    if ((chunk.error !== undefined && chunk.error !== null) || event === 'error') {
      this.failFromErrorObject(chunk);
      return;
    }
    if (typeof chunk.model === 'string' && !this.model) this.model = chunk.model;
    if (isRecord(chunk.usage)) this.usage = usageOf(chunk.usage);
    const choices = Array.isArray(chunk.choices) ? chunk.choices.filter(isRecord) : [];
    const choice = choices.find((c) => c.index === 0) ?? choices[0];
    if (!choice) return;
    if (typeof choice.finish_reason === 'string' && choice.finish_reason) this.finishReason = choice.finish_reason;
    const delta = isRecord(choice.delta) ? choice.delta : {};
    const out: StreamDelta = {};
    const content = str(delta.content);
    if (content) {
      out.content = content;
      this.content += content;
    }
    const reasoning = str(delta.reasoning_content) || str(delta.reasoning);
    if (reasoning) {
      out.reasoning = reasoning;
      this.reasoning += reasoning;
    }
    const toolCalls = Array.isArray(delta.tool_calls) ? this.addToolCalls(delta.tool_calls) : [];
    if (toolCalls.length) out.toolCalls = toolCalls;
    if (out.content === undefined && out.reasoning === undefined && out.toolCalls === undefined) return;
    this.delivered = true;
    this.onDelta(out);
  }

  /** Everything delivered, as one result. */
  result(): StreamResult {
    const toolCalls = [...this.tools.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, call]) => ({ ...call, id: call.id || `call_${index}` }));
    return {
      content: this.content,
      reasoning: this.reasoning,
      toolCalls,
      finishReason: this.finishReason,
      ...(this.usage ? { usage: this.usage } : {}),
      ...(this.model ? { model: this.model } : {}),
    };
  }

  private addToolCalls(raw: unknown[]): ToolCallDelta[] {
    const out: ToolCallDelta[] = [];
    raw.forEach((item, position) => {
      if (!isRecord(item)) return;
      const index = typeof item.index === 'number' ? item.index : position;
      const fn = isRecord(item.function) ? item.function : {};
      const id = str(item.id);
      const name = str(fn.name);
      const args = typeof fn.arguments === 'string' ? fn.arguments : isRecord(fn.arguments) ? JSON.stringify(fn.arguments) : '';
      let call = this.tools.get(index);
      if (!call) {
        call = { id: '', name: '', arguments: '' };
        this.tools.set(index, call);
      }
      if (id && !call.id) call.id = id;
      if (name && !call.name) call.name = name;
      call.arguments += args;
      if (!id && !name && !args) return;
      out.push({ index, ...(id ? { id } : {}), ...(name ? { name } : {}), ...(args ? { arguments: args } : {}) });
    });
    return out;
  }

  private failFromErrorObject(chunk: Json): void {
    const error = isRecord(chunk.error) ? chunk.error : chunk;
    const status = errorStatus(error);
    const text = errorMessageOf(chunk);
    const message = text ? `AI upstream sent an error: ${upstreamText(text, this.apiKey)}` : 'AI upstream sent an error';
    const details = status !== undefined ? { status } : {};
    // An error before any delta that says "busy" (429/502/503) is retried like the same status.
    this.fail(new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, message, details), !this.delivered && isRetryableStatus(status));
  }

  /** The event stream itself is broken (an event over the parser's buffer bound). */
  malformed(): void {
    if (!this.failure) this.fail(new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, 'AI upstream sent a malformed event'), false);
  }

  private fail(error: GatewayError, retryable: boolean): void {
    this.failure = new AttemptFailure(error, retryable);
  }
}

function usageOf(raw: Json): StreamResult['usage'] {
  const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const prompt = n(raw.prompt_tokens);
  const completion = n(raw.completion_tokens);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: n(raw.total_tokens) || prompt + completion };
}
