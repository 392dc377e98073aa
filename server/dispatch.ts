import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { catalogueProblems, clientMessage, clientMessages, isServerMessage, namespaceAccepts, type AckCallback } from '../shared/catalogue';
import { ErrorCodes, GatewayError, schemaRefusal, toGatewayError } from '../shared/errors';
import type { MessageDef } from '../shared/messages/define';
import type { NamespaceName } from '../shared/namespaces';
import type { PodActivity } from './cluster/activity';
import type { Config } from './config';
import type { AckData, Call, ConnectListener, DisconnectListener, MessageHandler } from './handlers/context';
import type { Logger } from './logger';
import type { CallOutcome, Guard, GuardInput, Observer, Stage } from './pipeline';
import { SocketCall, callsOf } from './call';
import { isClosing } from './disconnect';
import type { GatewayNamespace, GatewaySocket } from './types';

/** A custom route's payload: any JSON object (its backend validates it). */
const CUSTOM_PAYLOAD = z.record(z.unknown());

/** A socket whose messages wait behind one that is being guarded asynchronously. */
const GUARDING = Symbol('gateway.guarding');
type QueuedSocket = { [GUARDING]?: Promise<void> };

/** Engine.io connections carry the byte size of the frame being dispatched (set before decoding). */
export const FRAME_BYTES = Symbol('frameBytes');
type SizedConn = { [FRAME_BYTES]?: number };

/** Sends an error on the message's one way out: its ack when it has one, else an `error` event. */
export function sendError(socket: GatewaySocket, messageType: string, ack: AckCallback | undefined, err: GatewayError): void {
  if (ack) {
    ack({ ok: false, error: err.toBody() });
    return;
  }
  socket.emit('error', {
    ...err.details,
    type: 'error',
    code: err.code,
    error: err.message,
    message_type: messageType,
    timestamp: new Date().toISOString(),
  });
}

interface Route {
  readonly def: MessageDef;
  readonly run: MessageHandler<never>;
  readonly maxBytes: number;
}

/**
 * The message pipeline. One listener per socket (`onAny`), shared by all sockets, routes every
 * incoming event of every namespace through, in order:
 *   1. routing: the type is in the catalogue and served by this namespace (UNKNOWN_MESSAGE_TYPE);
 *   2. the size limit, the type's own or MAX_MESSAGE_BYTES (MESSAGE_TOO_LARGE);
 *   3. the guards, in registration order (token still valid, rate limits, in-flight bound); a
 *      `stream`-class message a guard refuses is dropped silently (it is throttled, not refused).
 *      They need only the socket and the type, so a flood over budget costs no validation;
 *   4. the schema (INVALID_MESSAGE with the zod issue paths);
 *   5. the handler, with a Call: principal, logger, typed `emit` to the caller, and an abort
 *      signal that fires when the caller disconnects or the pod shuts down.
 * What the handler returns is acked `{ok: true, ...}` (or sent as the type's reply event to a
 * client without an ack callback); what it throws goes out as the error. Observers see every
 * outcome. Calls whose handler is asynchronous are tracked until they settle: per socket (the
 * in-flight bound, aborts on disconnect) and per pod (shutdown drains them).
 */
export class Dispatcher {
  private readonly routes = new Map<string, Route>();
  private readonly custom = new Set<string>();
  private readonly guards: Guard[] = [];
  private readonly observers: Observer[] = [];
  private readonly connectListeners: ConnectListener[] = [];
  private readonly disconnectListeners: DisconnectListener[] = [];
  private readonly cleanups = new Set<Promise<unknown>>();
  private readonly calls = new Set<SocketCall>();
  private draining = false;
  private readonly log: Logger;

  constructor(
    private readonly config: Config,
    logger: Logger,
    private readonly activity: PodActivity,
  ) {
    this.log = logger.child({ module: 'dispatch' });
  }

  handle(type: string, handler: MessageHandler<never>): void {
    if (this.routes.has(type)) throw new Error(`Message type ${type} has two handlers`);
    const def = clientMessage(type);
    if (!def) throw new Error(`Message type ${type} has a handler but no catalogue entry`);
    this.routes.set(type, { def, run: handler, maxBytes: Math.min(def.maxBytes ?? Infinity, this.config.maxMessageBytes) });
  }

  /**
   * Serves a message type that is not in the catalogue: a team's own type routed to its backend
   * (RPC_ROUTES). Its payload is any JSON object, its rate class `request`, served on `/` only
   * (feature namespaces accept their catalogue types). It may not shadow a catalogue type.
   */
  handleCustom(type: string, handler: (payload: Record<string, unknown>, call: Call) => Promise<AckData | void>): void {
    if (clientMessage(type)) throw new Error(`RPC route ${type} shadows a message type of the catalogue`);
    if (this.routes.has(type)) throw new Error(`Message type ${type} has two handlers`);
    const def: MessageDef = { schema: CUSTOM_PAYLOAD, rate: 'request', ack: CUSTOM_PAYLOAD, namespaces: [] };
    this.routes.set(type, { def, run: handler as MessageHandler<never>, maxBytes: this.config.maxMessageBytes });
    this.custom.add(type);
  }

  guard(guard: Guard): void {
    this.guards.push(guard);
  }

  observe(observer: Observer): void {
    this.observers.push(observer);
  }

  onConnect(listener: ConnectListener): void {
    this.connectListeners.push(listener);
  }

  onDisconnect(listener: DisconnectListener): void {
    this.disconnectListeners.push(listener);
  }

  /** The start-up check: every catalogue type has a handler, every reply names a server event. */
  verify(): void {
    const problems = catalogueProblems();
    for (const type of Object.keys(clientMessages)) if (!this.routes.has(type)) problems.push(`${type}: no handler`);
    for (const type of this.custom) if (clientMessage(type)) problems.push(`${type}: a custom route shadows a catalogue type`);
    for (const { def } of this.routes.values()) if (def.reply !== undefined && !isServerMessage(def.reply)) problems.push(`${def.reply}: unknown reply`);
    if (problems.length) throw new Error(`Message catalogue and handlers disagree: ${problems.join('; ')}`);
  }

  /** Installs the pipeline on a namespace. */
  attach(nsp: GatewayNamespace): void {
    const dispatcher = this;
    const name = nsp.name as NamespaceName;
    function onEvent(this: GatewaySocket, event: string, ...args: unknown[]) {
      dispatcher.dispatch(this, name, event, args);
    }
    function onDisconnecting(this: GatewaySocket) {
      dispatcher.disconnected(this);
    }
    nsp.on('connection', (socket) => {
      socket.onAny(onEvent);
      socket.on('disconnecting', onDisconnecting);
      const listeners = this.connectListeners;
      for (let i = 0; i < listeners.length; i++) this.track(listeners[i], socket, 'connect listener failed');
    });
  }

  private observe_(outcome: CallOutcome): void {
    for (const observer of this.observers) observer.onOutcome(outcome);
  }

  private refuse(socket: GatewaySocket, namespace: NamespaceName, type: string, ack: AckCallback | undefined, stage: Stage, err: GatewayError, route?: Route): void {
    this.observe_({ type: route ? type : 'unknown', rate: route?.def.rate, namespace, stage, code: err.code });
    sendError(socket, type, ack, err);
  }

  private dispatch(socket: GatewaySocket, namespace: NamespaceName, event: string, args: unknown[]): void {
    // A connection being closed (cut off for abuse, an expired token, a slow reader) is not served
    // what it still had in flight: no work, no answers.
    if (isClosing(socket.conn)) return;
    this.activity.messageReceived();
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as AckCallback) : undefined;
    const route = this.routes.get(event);
    if (!route || !namespaceAccepts(namespace, route.def)) {
      return this.refuse(socket, namespace, event, ack, 'route', new GatewayError(ErrorCodes.UNKNOWN_MESSAGE_TYPE, `Unsupported message type: ${event}`));
    }
    const bytes = (socket.conn as unknown as SizedConn)[FRAME_BYTES] ?? 0;
    if (bytes > route.maxBytes) {
      const err = new GatewayError(ErrorCodes.MESSAGE_TOO_LARGE, `Message of ${bytes} bytes exceeds the limit of ${route.maxBytes}`, { limit: route.maxBytes });
      return this.refuse(socket, namespace, event, ack, 'size', err, route);
    }
    if (this.draining) {
      return this.refuse(socket, namespace, event, ack, 'guard', new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, 'Server shutting down: reconnect'), route);
    }
    const input: GuardInput = { socket, type: event, rate: route.def.rate, namespace, payload: args[0] };
    // A socket's messages reach their handlers in the order they arrived: while one waits for an
    // asynchronous guard (a Redis-backed limit), the next ones wait behind it.
    const queued = socket as unknown as QueuedSocket;
    const tail = queued[GUARDING];
    const pending = tail ? tail.then(() => this.guardAndRun(input, ack, route)) : this.guardAndRun(input, ack, route);
    if (!pending) return;
    queued[GUARDING] = pending;
    this.cleanups.add(pending);
    void pending.finally(() => {
      this.cleanups.delete(pending);
      if (queued[GUARDING] === pending) queued[GUARDING] = undefined;
    });
  }

  /**
   * Runs the guards and then the handler. Synchronous while every guard answers synchronously (the
   * hot path); from the first guard that answers with a promise, the rest continue after it and
   * the returned promise (which never rejects) settles when the handler has been started.
   */
  private guardAndRun(input: GuardInput, ack: AckCallback | undefined, route: Route): Promise<void> | undefined {
    if (isClosing(input.socket.conn)) return undefined;
    for (let i = 0; i < this.guards.length; i++) {
      let pending: void | Promise<void>;
      try {
        pending = this.guards[i].check(input);
      } catch (err) {
        this.guardRefused(input, ack, route, this.guards[i], err);
        return undefined;
      }
      if (pending) return this.continueGuards(input, ack, route, i, pending);
    }
    this.validateAndRun(input, ack, route);
    return undefined;
  }

  private async continueGuards(input: GuardInput, ack: AckCallback | undefined, route: Route, index: number, pending: Promise<void>): Promise<void> {
    let i = index;
    try {
      await pending;
      for (i = index + 1; i < this.guards.length; i++) await this.guards[i].check(input);
    } catch (err) {
      return this.guardRefused(input, ack, route, this.guards[i], err);
    }
    if (input.socket.connected && !isClosing(input.socket.conn)) this.validateAndRun(input, ack, route);
  }

  /** The schema, after the guards: a flood over budget costs no validation. */
  private validateAndRun(input: GuardInput, ack: AckCallback | undefined, route: Route): void {
    const parsed = route.def.schema.safeParse(input.payload ?? {});
    if (!parsed.success) {
      return this.refuse(input.socket, input.namespace, input.type, ack, 'schema', schemaRefusal(input.type, parsed.error.issues, '(payload)'), route);
    }
    this.run(input, ack, route, parsed.data);
  }

  private guardRefused(input: GuardInput, ack: AckCallback | undefined, route: Route, guard: Guard, err: unknown): void {
    const gwErr = toGatewayError(err);
    if (gwErr.code === ErrorCodes.INTERNAL_ERROR) this.log.error('guard failed', { guard: guard.name, error: String((err as Error)?.stack ?? err) });
    if (route.def.rate === 'stream' && gwErr.code === ErrorCodes.RATE_LIMIT_EXCEEDED) {
      this.observe_({ type: input.type, rate: 'stream', namespace: input.namespace, stage: 'guard', code: gwErr.code, dropped: true, guard: guard.name });
      return;
    }
    this.observe_({ type: input.type, rate: route.def.rate, namespace: input.namespace, stage: 'guard', code: gwErr.code, guard: guard.name });
    sendError(input.socket, input.type, ack, gwErr);
  }

  private run(input: GuardInput, ack: AckCallback | undefined, route: Route, payload: unknown): void {
    const { socket, type, namespace } = input;
    const call = new SocketCall(socket, type, this.log);
    const started = performance.now();
    const reply = route.def.reply;
    const settle = (code?: GatewayError) => {
      this.observe_({ type, rate: route.def.rate, namespace, stage: 'handler', code: code?.code, seconds: (performance.now() - started) / 1000 });
    };
    const succeed = (data: AckData | void) => {
      settle();
      if (ack) ack({ ok: true, ...(data ?? {}) } as never);
      else if (reply && data) (socket.emit as (ev: string, payload: unknown) => boolean)(reply, data);
    };
    const fail = (err: unknown) => {
      const gwErr = toGatewayError(err);
      settle(gwErr);
      if (gwErr.code === ErrorCodes.INTERNAL_ERROR) call.log.error('handler failed', { message_type: type, error: String((err as Error)?.stack ?? err) });
      if (socket.connected) sendError(socket, type, ack, gwErr);
    };
    let result: unknown;
    try {
      result = route.run(payload as never, call);
    } catch (err) {
      return fail(err);
    }
    if (!result || typeof (result as Promise<unknown>).then !== 'function') return succeed(result as AckData | void);
    // An asynchronous call: tracked until it settles, for the in-flight bound, aborts and drain.
    const calls = callsOf(socket);
    calls.add(call);
    this.calls.add(call);
    call.settled = (result as Promise<AckData | void>)
      .then(succeed, fail)
      .finally(() => {
        calls.delete(call);
        this.calls.delete(call);
      });
  }

  /** Runs a listener on a socket (no closure per call), tracking its promise for shutdown and logging its failure. */
  private track(listener: (socket: GatewaySocket) => unknown, socket: GatewaySocket, message: string): void {
    let result: unknown;
    try {
      result = listener(socket);
    } catch (err) {
      this.log.error(message, { socket_id: socket.id, error: String((err as Error)?.stack ?? err) });
      return;
    }
    if (!(result instanceof Promise)) return;
    const done = result.catch((err) => this.log.error(message, { socket_id: socket.id, error: String((err as Error)?.stack ?? err) }));
    this.cleanups.add(done);
    void done.finally(() => this.cleanups.delete(done));
  }

  private disconnected(socket: GatewaySocket): void {
    const calls = socket.data.calls;
    if (calls?.size) {
      const reason = new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, 'Caller disconnected');
      for (const call of calls) call.abort(reason);
    }
    for (const listener of this.disconnectListeners) this.track(listener, socket, 'disconnect cleanup failed');
  }

  /**
   * Shutdown, first step: refuse new messages, wait for the calls in flight to answer their
   * callers (who are still connected) for at most `timeoutMs`, then abort the rest.
   */
  async drainCalls(timeoutMs: number): Promise<void> {
    this.draining = true;
    if (this.calls.size === 0) return;
    this.log.info('draining calls in flight', { calls: this.calls.size });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    const settled = (async () => {
      while (this.calls.size) await Promise.allSettled([...this.calls].map((c) => c.settled));
    })();
    await Promise.race([settled, deadline]);
    clearTimeout(timer);
    if (this.calls.size) {
      this.log.warn('aborting calls still in flight', { calls: this.calls.size });
      const reason = new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, 'Server shutting down');
      for (const call of this.calls) call.abort(reason);
    }
  }

  /** Shutdown, after the transports closed: waits for connect and disconnect listeners under way. */
  async drain(): Promise<void> {
    while (this.cleanups.size) await Promise.allSettled([...this.cleanups]);
  }
}

/**
 * A `data` listener for engine.io connections (prepended, so it runs before socket.io decodes the
 * frame) that records the frame's byte size for the dispatcher's size check. One function serves
 * every connection.
 */
export function frameSizeRecorder(limit: number): (this: unknown, data: string | Buffer) => void {
  return function (this: unknown, data: string | Buffer) {
    // A UTF-8 string is at most 3 bytes per UTF-16 unit: measure exactly only when it could matter.
    (this as SizedConn)[FRAME_BYTES] =
      typeof data === 'string' ? (data.length * 3 <= limit ? data.length : Buffer.byteLength(data)) : data.byteLength;
  };
}
