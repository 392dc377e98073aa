import { createParser } from 'eventsource-parser';
import { ErrorCodes, GatewayError } from '../../shared/errors';
import type { Logger } from '../logger';
import {
  DEFAULT_RETRY_POLICY,
  connectionErrorCode,
  isRetryableConnectionError,
  retryDelayMs,
  sleep,
  type RetryPolicy,
} from './retry';
import { statusFailure } from './status-failure';
import { AttemptFailure, ChunkAccumulator } from './stream-chunks';

/**
 * A streaming client for any OpenAI-compatible Chat Completions endpoint (OpenAI, vLLM, Ollama,
 * LiteLLM, llama.cpp server). Built on `eventsource-parser` over Node's global `fetch` (undici,
 * keep-alive pooled) rather than the `openai` SDK because the gateway needs its own rules that the
 * SDK would fight: retry only before the first delta, one deadline for the whole stream, an abort
 * that closes the upstream request at once, and no hidden SDK retries or timeouts.
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A piece of a tool call: `arguments` arrive in pieces per `index`; `id` and `name` usually once. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  name?: string;
  arguments?: string;
}

/** What one upstream chunk added; at least one field is present and non-empty. */
export interface StreamDelta {
  content?: string;
  reasoning?: string;
  toolCalls?: ToolCallDelta[];
}

/** A complete tool call, its arguments assembled from every piece (a JSON text, not parsed). */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** The whole answer: `content` and `reasoning` are exactly the concatenation of the deltas. */
export interface StreamResult {
  content: string;
  reasoning: string;
  toolCalls: ToolCall[];
  finishReason: string | null;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  model?: string;
}

export interface StreamRequest {
  messages: ChatMessage[];
  /** Cancel, disconnect, shutdown: aborting closes the upstream request and rejects with `signal.reason`. */
  signal: AbortSignal;
  /** Called synchronously for every non-empty delta, in arrival order; a throw ends the stream. */
  onDelta(delta: StreamDelta): void;
  /** Overrides the client's model for this request. */
  model?: string;
}

export interface ChatCompletionsClient {
  /**
   * Streams one completion. Rejects with a `GatewayError` (UPSTREAM_UNAVAILABLE, PERMISSION_DENIED,
   * INVALID_MESSAGE), with `signal.reason` when the signal aborts, or with what `onDelta` threw.
   */
  stream(request: StreamRequest): Promise<StreamResult>;
}

export interface ChatCompletionsClientOptions {
  /** e.g. `http://localhost:11434/v1`; `/chat/completions` is appended. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer`; never in an error, a log line or details. */
  apiKey?: string;
  model: string;
  /** Deadline for the whole call: connecting, retries and backoff, and the entire stream. */
  timeoutMs: number;
  logger: Logger;
  /** Retries before the first delta; default 3, from 200 ms doubling, capped at 2 s. */
  retry?: RetryPolicy;
}

/** An SSE event larger than this is treated as malformed (bounds the parser's memory). */
const MAX_EVENT_CHARS = 1 << 20;
/** How long to wait for the body's end after [DONE] before closing the connection instead. */
const DRAIN_GRACE_MS = 250;
const ignore = (): void => undefined;

/** Builds a client; does no I/O until `stream` is called. */
export function createChatCompletionsClient(options: ChatCompletionsClientOptions): ChatCompletionsClient {
  const url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const policy = options.retry ?? DEFAULT_RETRY_POLICY;
  const { apiKey, timeoutMs } = options;
  const log = options.logger.child({ module: 'ai-upstream' });
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'text/event-stream' };
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;

  async function attempt(body: string, signal: AbortSignal, acc: ChunkAccumulator): Promise<StreamResult> {
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', headers, body, signal });
    } catch (err) {
      if (signal.aborted) throw err;
      const code = connectionErrorCode(err);
      const message = code ? `AI upstream unreachable (${code})` : 'AI upstream unreachable';
      const failure = new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, message);
      throw new AttemptFailure(failure, isRetryableConnectionError(err), undefined, code);
    }
    if (!response.ok) throw await statusFailure(response, apiKey);
    if (!response.body) {
      throw new AttemptFailure(new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, 'AI upstream answered without a body'), false);
    }
    return readStream(response.body, signal, acc);
  }

  return {
    async stream(request: StreamRequest): Promise<StreamResult> {
      const { signal } = request;
      if (signal.aborted) throw signal.reason;
      // One controller for the caller's signal and the deadline: whichever comes first aborts the
      // fetch and becomes the rejection reason.
      const controller = new AbortController();
      const onAbort = (): void => controller.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        const message = `AI upstream timed out after ${timeoutMs} ms`;
        controller.abort(new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, message, { timeout_ms: timeoutMs }));
      }, timeoutMs);
      const body = JSON.stringify({
        model: request.model ?? options.model,
        messages: request.messages,
        stream: true,
        stream_options: { include_usage: true },
      });
      let completed = false;
      try {
        for (let retry = 1; ; retry++) {
          const acc = new ChunkAccumulator(request.onDelta, apiKey);
          try {
            const result = await attempt(body, controller.signal, acc);
            completed = true;
            return result;
          } catch (err) {
            if (controller.signal.aborted) throw controller.signal.reason;
            if (!(err instanceof AttemptFailure)) throw err;
            // Status and error code only: never the key, the messages, or upstream text.
            const fields = { status: err.error.details.status, cause: err.connectionCode, attempt: retry, delivered: acc.delivered };
            if (!err.retryable || acc.delivered || retry > policy.attempts) {
              log.debug('AI upstream request failed', { ...fields, code: err.error.code });
              throw err.error;
            }
            const delayMs = retryDelayMs(policy, retry, err.retryAfter);
            log.debug('retrying AI upstream request', { ...fields, delay_ms: delayMs });
            await sleep(delayMs, controller.signal);
          }
        }
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        // Any way out but success closes the upstream request (a no-op if it already ended).
        if (!completed && !controller.signal.aborted) controller.abort();
      }
    },
  };
}

/**
 * Reads the event stream into `acc` until `[DONE]`, a failure, or the end of the body. Any exit
 * before the body's end cancels it, which makes undici close the upstream request.
 */
async function readStream(body: ReadableStream<Uint8Array>, signal: AbortSignal, acc: ChunkAccumulator): Promise<StreamResult> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = createParser({
    maxBufferSize: MAX_EVENT_CHARS,
    onEvent: (event) => {
      if (!signal.aborted) acc.handle(event.data, event.event);
    },
    onError: (error) => {
      if (error.type === 'max-buffer-size-exceeded') acc.malformed();
    },
  });
  let ended = false;
  try {
    while (!acc.done && !acc.failure) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (signal.aborted) throw err;
        const failure = new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, 'AI upstream closed the connection mid-stream');
        throw new AttemptFailure(failure, !acc.delivered && isRetryableConnectionError(err), undefined, connectionErrorCode(err));
      }
      if (chunk.done) {
        ended = true;
        parser.feed(decoder.decode());
        parser.reset({ consume: true });
        break;
      }
      parser.feed(decoder.decode(chunk.value, { stream: true }));
    }
    // After [DONE] the body normally ends at once: read that end (briefly) so that the
    // connection goes back to the keep-alive pool instead of being cancelled and closed.
    if (!ended && acc.done && !acc.failure) ended = await reachEnd(reader);
  } finally {
    if (ended) reader.releaseLock();
    else reader.cancel().catch(ignore);
  }
  if (acc.failure) throw acc.failure;
  if (!acc.finished) {
    throw new AttemptFailure(new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, 'AI upstream ended the stream before it finished'), false);
  }
  return acc.result();
}

/** Reads what follows [DONE] (nothing, normally) for at most DRAIN_GRACE_MS; true if the body ended. */
async function reachEnd(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), DRAIN_GRACE_MS)));
  try {
    for (let reads = 0; reads < 4; reads++) {
      const next = await Promise.race([reader.read(), late]);
      if (next === 'late') return false;
      if (next.done) return true;
    }
    return false;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
