import { randomUUID } from 'node:crypto';
import { ErrorCodes, GatewayError, toGatewayError } from '../../shared/errors';
import { AllNamespaces } from '../../shared/namespaces';
import { userRoom } from '../../shared/rooms';
import type { AiConfig } from '../config';
import type { Logger } from '../logger';
import type { GatewayServer } from '../types';
import type { ChatCompletionsClient, ChatMessage, StreamResult } from '../upstreams/chat-completions';
import { DeltaCoalescer, type CoalescedDelta } from './coalescer';

/** Why a stream ended early: carried in the error's details (`reason`), so clients can tell. */
export type EndReason = 'cancelled' | 'disconnected' | 'shutdown';

/** Where a stream's events go (seed 002's ai_event, seed 001's agent events). */
export interface StreamSink {
  started(): void;
  delta(delta: CoalescedDelta): void;
  completed(result: StreamResult, seconds: number): void;
  /** Called once, after the deltas delivered so far, when the stream fails or is ended early. */
  failed(err: GatewayError): void;
}

export interface StreamRequest {
  readonly userId: string;
  readonly requestId?: string;
  /** Seed 001's correlation id: a cancel may name the stream by it. */
  readonly correlation?: string | number;
  readonly messages: ChatMessage[];
  /** The sink of the stream's events, given the request id (the client's, or one made here). */
  readonly sink: (requestId: string) => StreamSink;
}

interface ActiveStream {
  readonly requestId: string;
  readonly correlation?: string | number;
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

const ended = (reason: EndReason, message: string) => new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, message, { reason });

/**
 * The AI streams running on this pod, per user: at most AI_MAX_CONCURRENT_PER_USER at once, each
 * ended by its own completion or failure, a cancel (from any pod: the order travels through the
 * adapter), the user's last socket going, or shutdown. Ending one aborts its upstream request.
 */
export class AiStreams {
  private readonly byUser = new Map<string, Map<string, ActiveStream>>();
  private readonly log: Logger;

  constructor(
    private readonly io: GatewayServer,
    private readonly config: AiConfig,
    private readonly client: ChatCompletionsClient | undefined,
    logger: Logger,
    private readonly clustered: boolean,
  ) {
    this.log = logger.child({ module: 'ai' });
    io.on('gateway:ai_cancel', ({ userId, requestId, correlation }) => this.cancelLocal(userId, requestId, correlation));
  }

  /** Starts a stream; throws (before anything is sent) when it cannot start. Returns its request id. */
  start(request: StreamRequest): string {
    if (!this.client) {
      throw new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, 'No AI upstream is configured on this gateway: set AI_UPSTREAM_URL');
    }
    const streams = this.byUser.get(request.userId) ?? new Map<string, ActiveStream>();
    if (streams.size >= this.config.maxConcurrentPerUser) {
      throw new GatewayError(ErrorCodes.RATE_LIMIT_EXCEEDED, `At most ${this.config.maxConcurrentPerUser} AI streams at once per user`, {
        limit: this.config.maxConcurrentPerUser,
        retry_after_ms: 1000,
      });
    }
    const requestId = request.requestId ?? randomUUID();
    if (streams.has(requestId)) throw new GatewayError(ErrorCodes.INVALID_MESSAGE, `Request ${requestId} is already streaming`, { request_id: requestId });
    const controller = new AbortController();
    const done = this.execute(this.client, controller.signal, request, request.sink(requestId));
    streams.set(requestId, { requestId, correlation: request.correlation, controller, done });
    this.byUser.set(request.userId, streams);
    void done.finally(() => {
      streams.delete(requestId);
      if (streams.size === 0 && this.byUser.get(request.userId) === streams) this.byUser.delete(request.userId);
    });
    return requestId;
  }

  private async execute(client: ChatCompletionsClient, signal: AbortSignal, request: StreamRequest, sink: StreamSink): Promise<void> {
    const coalescer = new DeltaCoalescer(this.config.progressIntervalMs, (delta) => sink.delta(delta));
    const started = Date.now();
    try {
      sink.started();
      const result = await client.stream({ messages: request.messages, signal, onDelta: (delta) => coalescer.add(delta) });
      coalescer.flush();
      sink.completed(result, (Date.now() - started) / 1000);
    } catch (err) {
      coalescer.flush();
      const gwErr = signal.aborted && signal.reason instanceof GatewayError ? signal.reason : toGatewayError(err);
      if (gwErr.code === ErrorCodes.INTERNAL_ERROR) this.log.error('AI stream failed', { user_id: request.userId, error: String((err as Error)?.stack ?? err) });
      else this.log.debug('AI stream ended early', { user_id: request.userId, code: gwErr.code, reason: gwErr.message });
      sink.failed(gwErr);
    } finally {
      coalescer.stop();
    }
  }

  /** Cancels a user's stream wherever it runs; true when it ran on this pod. */
  cancel(userId: string, requestId?: string, correlation?: string | number): boolean {
    if (this.clustered) this.io.serverSideEmit('gateway:ai_cancel', { userId, requestId, correlation });
    return this.cancelLocal(userId, requestId, correlation);
  }

  private cancelLocal(userId: string, requestId?: string, correlation?: string | number): boolean {
    for (const stream of this.byUser.get(userId)?.values() ?? []) {
      if ((requestId !== undefined && stream.requestId === requestId) || (requestId === undefined && correlation !== undefined && stream.correlation === correlation)) {
        stream.controller.abort(ended('cancelled', 'Cancelled by the user'));
        return true;
      }
    }
    return false;
  }

  /**
   * A socket of `userId` is going (it is still in its rooms): when it was the user's last, on every
   * pod, their streams end.
   */
  async socketGone(userId: string, leaving: string): Promise<void> {
    if (!this.byUser.has(userId)) return;
    const room = userRoom(userId);
    const others = (ids: Iterable<string>) => [...ids].some((id) => id !== leaving);
    for (const name of AllNamespaces) if (others(this.io._nsps.get(name)?.adapter.rooms.get(room) ?? [])) return;
    if (this.clustered) {
      const remaining = await this.io.in(room).fetchSockets().catch(() => undefined);
      if (remaining === undefined || others(remaining.map((s) => s.id))) return;
    }
    for (const stream of this.byUser.get(userId)?.values() ?? []) stream.controller.abort(ended('disconnected', 'The client disconnected'));
  }

  /** Shutdown: waits for the streams up to `timeoutMs`, then ends the rest (each tells its user). */
  async drain(timeoutMs: number): Promise<void> {
    const all = () => [...this.byUser.values()].flatMap((m) => [...m.values()]);
    if (all().length === 0) return;
    this.log.info('waiting for AI streams', { streams: all().length });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(all().map((s) => s.done)), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    const left = all();
    for (const stream of left) stream.controller.abort(ended('shutdown', 'Server shutting down: retry on another connection'));
    await Promise.allSettled(left.map((s) => s.done));
  }

  activeCount(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0;
  }
}
