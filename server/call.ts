import type { ServerMessageType, ServerPayload } from '../shared/catalogue';
import type { Principal } from './auth/principal';
import type { Call } from './handlers/context';
import type { Logger } from './logger';
import type { GatewaySocket } from './types';

/**
 * One message being handled. The abort controller and the child logger are made on first use:
 * most handlers never look at either, and a call is made for every message.
 */
export class SocketCall implements Call {
  private log_?: Logger;
  private controller?: AbortController;
  private abortedWith?: unknown;
  /** Settles when the handler's promise does (set by the dispatcher for asynchronous calls). */
  settled: Promise<unknown> = Promise.resolve();

  constructor(
    readonly socket: GatewaySocket,
    readonly type: string,
    private readonly logger: Logger,
  ) {}

  get principal(): Principal {
    return this.socket.data.principal;
  }

  get log(): Logger {
    return (this.log_ ??= this.logger.child({ socket_id: this.socket.id, user_id: this.principal.userId, message_type: this.type }));
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortedWith !== undefined) this.controller.abort(this.abortedWith);
    }
    return this.controller.signal;
  }

  emit<E extends ServerMessageType>(event: E, payload: ServerPayload<E>): void {
    (this.socket.emit as (ev: string, p: unknown) => boolean)(event, payload);
  }

  /** Aborts the call's signal (the caller went, or the pod is shutting down). */
  abort(reason: unknown): void {
    if (this.abortedWith !== undefined) return;
    this.abortedWith = reason;
    this.controller?.abort(reason);
  }
}

/** The asynchronous calls of a socket still under way (created on first use). */
export function callsOf(socket: GatewaySocket): Set<SocketCall> {
  return (socket.data.calls ??= new Set());
}
