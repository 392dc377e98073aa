import type { IncomingHttpHeaders } from 'node:http';
import { CloseCodes, ErrorCodes, GatewayError, closeCodeFor, isErrorCode, type ErrorCode } from '../../shared/errors';
import type { Principal } from '../auth/principal';
import type { GatewayServer, GatewaySocket } from '../types';
import { isRecord } from './frames';
import { isSendableEventName } from './packets';

/**
 * A dialect is one legacy JSON protocol spoken on a native WebSocket endpoint: how the token
 * arrives, how an incoming frame becomes a (message type, payload) for the dispatcher, and how an
 * outgoing Socket.IO event, ack or error becomes a frame in the dialect's envelope. A dialect never
 * touches the WebSocket; the bridge (connection.ts) does.
 */

/** Close codes and the error-code table live in shared/errors.ts (one home for both channels). */
export { CloseCodes, closeCodeFor };

/** What the upgrade request offers a dialect: its query, headers and the endpoint's path parameters. */
export interface UpgradeInfo {
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly params: Readonly<Record<string, string>>;
}

/** Where the token comes from: the upgrade request, a first `auth` message, or either. */
export type TokenSource = 'handshake' | 'first-message' | 'handshake-or-first-message';

/** A request waiting for its ack: its type and what the dialect keeps for the reply (correlation id, ...). */
export interface PendingRequest {
  readonly type: string;
  readonly ref: unknown;
}

/** What one incoming frame asks for. */
export type Inbound =
  /** A message for the dispatcher; with `reply`, it is sent with an ack and the ack becomes a frame. */
  | { kind: 'event'; type: string; payload: unknown; reply?: { ref: unknown } }
  /** A first-message (or repeated) authentication. */
  | { kind: 'auth'; token: string | undefined; context: Record<string, string> }
  /** Answered by the dialect itself (JSON ping → pong). */
  | { kind: 'frame'; frame: string }
  | { kind: 'ignore' }
  | { kind: 'error'; error: GatewayError; request?: PendingRequest };

/** An error on its way out, whatever its source (local check, ack, `error` event, refused handshake). */
export interface ErrorInfo {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
  readonly messageType?: string;
}

/** What dialect hooks may do with a connection once it is a Socket.IO socket. */
export interface NativeSession {
  readonly socket: GatewaySocket;
  readonly principal: Principal;
  readonly io: GatewayServer;
  /** Connection context from the handshake or auth message (e.g. `contextId`). */
  readonly context: Readonly<Record<string, string>>;
  readonly connectedAt: number;
  /** Whether the token came in a first `auth` message (then it gets an auth answer). */
  readonly authenticatedByMessage: boolean;
  send(frame: string): void;
  close(code: number, reason: string): void;
  /** Dispatches a message as if the client had sent it (errors come back as frames). */
  inject(type: string, payload: unknown): void;
  /** Runs `fn` every `ms` until the connection closes. */
  every(ms: number, fn: () => void): void;
}

export interface Dialect {
  readonly name: string;
  readonly tokenSource: TokenSource;
  /** The token and context the upgrade request carries (query, header, path segment). */
  handshake?(info: UpgradeInfo): { token?: string; context?: Record<string, string> };
  decode(frame: unknown): Inbound;
  /** An outgoing event as a frame; undefined drops it. Must not depend on the connection (frames are shared by a broadcast's recipients). */
  encodeEvent(event: string, payload: unknown): string | undefined;
  /** A successful ack as a frame; undefined sends nothing. */
  encodeReply(request: PendingRequest, result: Record<string, unknown>): string | undefined;
  encodeError(error: ErrorInfo, request?: PendingRequest): string;
  /** The answer to a successful `auth` message. */
  encodeAuthSuccess?(session: NativeSession): string;
  /** The frame sent before closing on a failed `auth` message. */
  encodeAuthFailure?(error: ErrorInfo): string;
  /** Runs once the connection is a Socket.IO socket, before queued frames are dispatched. */
  onConnected?(session: NativeSession): void;
}

export { isRecord };

export { isoNow } from '../clock';

export function errorInfo(err: GatewayError, messageType?: string): ErrorInfo {
  return { code: err.code, message: err.message, details: err.details, messageType };
}

/** The dispatcher's `error` event payload (`{type, code, error, message_type, timestamp, ...details}`). */
export function errorInfoFromEvent(payload: unknown): ErrorInfo {
  const { type: _type, code, error, message_type, timestamp: _ts, ...details } = isRecord(payload) ? payload : {};
  return {
    code: isErrorCode(code) ? code : ErrorCodes.INTERNAL_ERROR,
    message: typeof error === 'string' ? error : 'Server-side error',
    details,
    messageType: typeof message_type === 'string' ? message_type : undefined,
  };
}

/** An ack's `{ok: false, error: {code, message, ...details}}` body. */
export function errorInfoFromBody(body: unknown, messageType?: string): ErrorInfo {
  const { code, message, ...details } = isRecord(body) ? body : {};
  return {
    code: isErrorCode(code) ? code : ErrorCodes.INTERNAL_ERROR,
    message: typeof message === 'string' ? message : 'Server-side error',
    details,
    messageType,
  };
}

/** The `type` of a typed frame, or the error for a frame that has none usable. */
export function frameType(frame: unknown): string | GatewayError {
  if (!isRecord(frame)) return new GatewayError(ErrorCodes.INVALID_MESSAGE, 'Message must be a JSON object');
  const { type } = frame;
  if (typeof type !== 'string' || type.length === 0) return new GatewayError(ErrorCodes.INVALID_MESSAGE, 'Message has no "type" string');
  if (!isSendableEventName(type)) return new GatewayError(ErrorCodes.UNKNOWN_MESSAGE_TYPE, `Unsupported message type: ${String(type).slice(0, 64)}`);
  return type;
}

/** A payload object without some keys (the envelope's own fields). */
export function without(payload: unknown, keys: readonly string[]): Record<string, unknown> {
  if (!isRecord(payload)) return {};
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(payload)) if (key !== '__proto__' && !keys.includes(key)) out[key] = payload[key];
  return out;
}

/** A correlation value a client may attach (string or number, bounded). */
export function correlationValue(value: unknown): string | number | undefined {
  if (typeof value === 'string' && value.length > 0 && value.length <= 128) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  return undefined;
}
