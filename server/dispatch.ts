import { clientMessage, namespaceAccepts, type AckCallback } from '../shared/catalogue';
import { ErrorCodes, GatewayError, toGatewayError } from '../shared/errors';
import type { NamespaceName } from '../shared/namespaces';
import type { PodActivity } from './cluster/activity';
import type { Config } from './config';
import type { AckData, Call, DisconnectListener, HandleOptions, MessageHandler } from './handlers/context';
import type { Logger } from './logger';
import type { GatewayNamespace, GatewaySocket } from './types';

/** Engine.io connections carry the byte size of the frame being dispatched (set before decoding). */
export const FRAME_BYTES = Symbol('frameBytes');
type SizedConn = { [FRAME_BYTES]?: number };

class SocketCall implements Call {
  private log_?: Logger;
  constructor(
    readonly socket: GatewaySocket,
    private readonly logger: Logger,
  ) {}
  get principal() {
    return this.socket.data.principal;
  }
  get log(): Logger {
    return (this.log_ ??= this.logger.child({ socket_id: this.socket.id, user_id: this.principal.userId }));
  }
}

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

/**
 * Routes every incoming event of every namespace: one listener per socket (`onAny`), shared by all
 * sockets. It checks the type against the namespace, the frame size, validates the payload against
 * the catalogue's schema (INVALID_MESSAGE with the zod issue paths) and only then runs the handler;
 * what the handler returns is acked `{ok: true, ...}`, what it throws goes out as an error.
 */
export class Dispatcher {
  private readonly handlers = new Map<string, { run: MessageHandler<never>; replyEvent?: string }>();
  private readonly disconnectListeners: DisconnectListener[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private readonly log: Logger;

  constructor(
    private readonly config: Config,
    logger: Logger,
    private readonly activity: PodActivity,
  ) {
    this.log = logger.child({ module: 'dispatch' });
  }

  handle(type: string, handler: MessageHandler<never>, options: HandleOptions = {}): void {
    if (this.handlers.has(type)) throw new Error(`Message type ${type} has two handlers`);
    this.handlers.set(type, { run: handler, replyEvent: options.replyEvent });
  }

  onDisconnect(listener: DisconnectListener): void {
    this.disconnectListeners.push(listener);
  }

  /** Installs the dispatcher on a namespace. */
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
    });
  }

  private dispatch(socket: GatewaySocket, namespace: NamespaceName, event: string, args: unknown[]): void {
    this.activity.messageReceived();
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as AckCallback) : undefined;
    const def = clientMessage(event);
    const handler = def && namespaceAccepts(namespace, def) ? this.handlers.get(event) : undefined;
    if (!def || !handler) {
      sendError(socket, event, ack, new GatewayError(ErrorCodes.UNKNOWN_MESSAGE_TYPE, `Unsupported message type: ${event}`));
      return;
    }
    const bytes = (socket.conn as unknown as SizedConn)[FRAME_BYTES] ?? 0;
    if (bytes > this.config.maxMessageBytes) {
      sendError(socket, event, ack, new GatewayError(ErrorCodes.MESSAGE_TOO_LARGE, `Message of ${bytes} bytes exceeds the limit of ${this.config.maxMessageBytes}`, { limit: this.config.maxMessageBytes }));
      return;
    }
    const parsed = def.schema.safeParse(args[0] ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      sendError(socket, event, ack, new GatewayError(ErrorCodes.INVALID_MESSAGE, `Invalid ${event}: ${issues.map((i) => `${i.path || '(payload)'}: ${i.message}`).join('; ')}`, { issues }));
      return;
    }
    const call = new SocketCall(socket, this.log);
    const succeed = (data: AckData | void) => {
      if (ack) ack({ ok: true, ...(data ?? {}) });
      else if (handler.replyEvent && data) (socket.emit as (ev: string, payload: unknown) => boolean)(handler.replyEvent, data);
    };
    const fail = (err: unknown) => {
      const gwErr = toGatewayError(err);
      if (gwErr.code === ErrorCodes.INTERNAL_ERROR) call.log.error('handler failed', { message_type: event, error: String((err as Error)?.stack ?? err) });
      sendError(socket, event, ack, gwErr);
    };
    try {
      const result = handler.run(parsed.data as never, call);
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        (result as Promise<AckData | void>).then(succeed, fail);
      } else {
        succeed(result as AckData | void);
      }
    } catch (err) {
      fail(err);
    }
  }

  private disconnected(socket: GatewaySocket): void {
    for (const listener of this.disconnectListeners) {
      const run = (async () => listener(socket))().catch((err) =>
        this.log.error('disconnect cleanup failed', { socket_id: socket.id, error: String(err) }),
      );
      this.pending.add(run);
      void run.finally(() => this.pending.delete(run));
    }
  }

  /** Waits for in-flight disconnect cleanups (presence leaves, room_state pushes). */
  async drain(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
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
