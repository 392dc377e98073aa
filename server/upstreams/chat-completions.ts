import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { createParser } from 'eventsource-parser';
import { ErrorCodes, GatewayError } from '../../shared/errors';
import type { Logger } from '../logger';
import {
  DEFAULT_RETRY_POLICY,
  connectionErrorCode,
  isRetryableConnectionCode,
  retryDelayMs,
  sleep,
  type RetryPolicy,
} from './retry';
import { createUpstream, type Exchange, type PostRequest } from './http-post';
import { statusFailure } from './status-failure';
import { AttemptFailure, ChunkAccumulator } from './stream-chunks';

/**
 * A streaming client for any OpenAI-compatible Chat Completions endpoint (OpenAI, vLLM, Ollama,
 * LiteLLM, llama.cpp server). Built on `eventsource-parser` over `node:http` / `node:https` (a
 * keep-alive pool per client, server/upstreams/http-post.ts) rather than the `openai` SDK because
 * the gateway needs its own rules that the SDK would fight: retry only before the first delta, one deadline for the whole stream, an abort
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
  /** Closes the pooled connections (shutdown, after the streams ended); `stream` is not called again. */
  close(): void;
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
  const upstream = createUpstream(`${options.baseUrl.replace(/\/+$/, '')}/chat/completions`);
  const policy = options.retry ?? DEFAULT_RETRY_POLICY;
  const { apiKey, timeoutMs } = options;
  const log = options.logger.child({ module: 'ai-upstream' });
  // The User-Agent Node's fetch sent (some API front ends refuse requests without one); no
  // Accept-Encoding: the event stream comes uncompressed, each event readable as it arrives.
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'text/event-stream', 'User-Agent': 'node' };
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;

  async function attempt(body: string, signal: AbortSignal, acc: ChunkAccumulator): Promise<StreamResult> {
    let exchange: Exchange;
    try {
      exchange = await upstream.post(headers, body, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      const code = connectionErrorCode(err);
      const message = code ? `AI upstream unreachable (${code})` : 'AI upstream unreachable';
      const failure = new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, message);
      throw new AttemptFailure(failure, isRetryableConnectionCode(code), undefined, code);
    }
    const { request, response } = exchange;
    let ended = false;
    try {
      const status = response.statusCode ?? 0;
      if (status < 200 || status > 299) throw await statusFailure(response, apiKey);
      if (status === 204 || status === 205) {
        throw new AttemptFailure(new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, 'AI upstream answered without a body'), false);
      }
      ended = await readEvents(response, request, signal, acc);
    } finally {
      // Any exit before the body's end closes the upstream request (and its connection).
      if (!ended) request.destroy();
    }
    if (acc.failure) throw acc.failure;
    if (!acc.finished) {
      throw new AttemptFailure(new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, 'AI upstream ended the stream before it finished'), false);
    }
    return acc.result();
  }

  return {
    async stream(request: StreamRequest): Promise<StreamResult> {
      const { signal } = request;
      if (signal.aborted) throw signal.reason;
      // One controller for the caller's signal and the deadline: whichever comes first aborts the
      // request and becomes the rejection reason.
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
    close: () => upstream.close(),
  };
}

/**
 * Reads the event stream into `acc` until `[DONE]`, a failure, or the end of the body, feeding each
 * TCP read to the parser as it comes. Resolves with whether the body ended: after [DONE] the end is
 * awaited for at most DRAIN_GRACE_MS so that the connection can go back to the pool; the caller
 * closes the request otherwise. Rejects with what `onDelta` threw, or when the body closes early.
 */
function readEvents(response: IncomingMessage, request: PostRequest, signal: AbortSignal, acc: ChunkAccumulator): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const decoder = new StringDecoder('utf8');
    const parser = createParser({
      maxBufferSize: MAX_EVENT_CHARS,
      onEvent: (event) => {
        if (!signal.aborted) acc.handle(event.data, event.event);
      },
      onError: (error) => {
        if (error.type === 'max-buffer-size-exceeded') acc.malformed();
      },
    });
    let grace: NodeJS.Timeout | undefined;
    const settle = (err: unknown, ended: boolean): void => {
      clearTimeout(grace);
      response.off('data', onData).off('end', onEnd).off('close', onClose);
      if (err === undefined) resolve(ended);
      else reject(err);
    };
    const onData = (chunk: Buffer): void => {
      if (acc.done) return; // what follows [DONE]: nothing, normally
      try {
        parser.feed(decoder.write(chunk));
      } catch (err) {
        settle(err, false);
        return;
      }
      if (acc.failure) settle(undefined, false);
      else if (acc.done) grace = setTimeout(() => settle(undefined, false), DRAIN_GRACE_MS);
    };
    const onEnd = (): void => {
      if (!acc.done && !acc.failure) {
        try {
          parser.feed(decoder.end());
          parser.reset({ consume: true });
        } catch (err) {
          settle(err, true);
          return;
        }
      }
      settle(undefined, true);
    };
    const onClose = (): void => {
      if (response.complete) return onEnd();
      if (acc.done) return settle(undefined, false); // closed after [DONE]: nothing is missing
      if (signal.aborted) return settle(signal.reason, false);
      // A reset connection says so on the request (ECONNRESET); a plain close does not.
      const code = typeof request.lastError?.code === 'string' ? request.lastError.code : undefined;
      const failure = new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, 'AI upstream closed the connection mid-stream');
      settle(new AttemptFailure(failure, !acc.delivered && isRetryableConnectionCode(code), undefined, code), false);
    };
    response.on('data', onData).on('end', onEnd).on('close', onClose);
    response.on('error', ignore); // 'aborted' on an early close: reported by onClose
    if (response.destroyed) onClose(); // closed (aborted) before these listeners were attached
  });
}
