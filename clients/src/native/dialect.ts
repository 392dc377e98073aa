import type { GatewayError } from '../common/errors';
import type { Answering } from '../common/requests';

export type { Answering };

/** What one frame from the gateway is, in the client's terms. */
export type Decoded =
  /** The dialect's greeting: the connection is ready (seed 001's connection_established). */
  | { readonly kind: 'ready'; readonly info: Readonly<Record<string, unknown>> }
  | { readonly kind: 'pong' }
  /** A server keepalive (seed 001's heartbeat). */
  | { readonly kind: 'heartbeat' }
  /** The answer to a live token refresh. */
  | { readonly kind: 'auth_success' }
  /** A successful answer to the request with this correlation id. */
  | { readonly kind: 'reply'; readonly correlation: string; readonly result: Readonly<Record<string, unknown>> }
  /** An error: for the request with `correlation`, else for the oldest one of `messageType`, else for nobody. */
  | { readonly kind: 'error'; readonly error: GatewayError; readonly correlation?: string; readonly messageType?: string }
  /** A server event: the catalogue's event name and payload. */
  | { readonly kind: 'event'; readonly type: string; readonly payload: unknown };

/**
 * One legacy JSON protocol of the gateway's native endpoints, as a client speaks it: where it is,
 * how a message is framed, how a frame is read, how requests are answered. A new dialect is one
 * object of this shape (see dialects/workspace.ts and dialects/agents.ts).
 */
export interface NativeDialect {
  readonly name: string;
  /** The endpoint path when service discovery is off or does not know it. */
  readonly path: string;
  /** The endpoint's key in `GET /ws/config` `websocket_config.endpoints`. */
  readonly discoveryKey: string;
  /**
   * How the client knows the gateway accepted the connection: `greeting`, a `ready` frame it sends
   * by itself; `ping`, the answer to a ping sent on open (the gateway answers only once the
   * handshake succeeded).
   */
  readonly handshake: 'greeting' | 'ping';
  encode(type: string, payload: unknown, correlation?: string): string;
  decode(frame: unknown): Decoded;
  /** The dialect's JSON ping. */
  ping(): string;
  answering(type: string): Answering;
  /** The frame that replaces a live connection's token, for dialects that can (seed 001's `auth`). */
  refresh?(token: string): string;
}

export { isRecord } from '../../../shared/records';

/** A correlation value as the gateway echoes it (a string or a number), as a string. */
export const correlationOf = (value: unknown): string | undefined =>
  typeof value === 'string' && value.length > 0 ? value : typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
