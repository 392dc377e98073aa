/**
 * The closed set of error codes of the public contract (DESIGN.md). Every error that leaves the
 * gateway carries one of these codes, whatever the channel: `connect_error` data at handshake, an
 * ack `{ok:false,error}` or `error` event per message, a close code for native clients.
 */
export const ErrorCodes = {
  AUTHENTICATION_FAILED: 'AUTHENTICATION_FAILED',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  RATE_LIMIT_EXCEEDED: 'RATE_LIMIT_EXCEEDED',
  INVALID_JSON: 'INVALID_JSON',
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  UNKNOWN_MESSAGE_TYPE: 'UNKNOWN_MESSAGE_TYPE',
  ROOM_NOT_FOUND: 'ROOM_NOT_FOUND',
  NOT_IN_ROOM: 'NOT_IN_ROOM',
  VERSION_CONFLICT: 'VERSION_CONFLICT',
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  CONNECTION_LIMIT: 'CONNECTION_LIMIT',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Default human-readable text per code, used when a thrower gives none. */
export const defaultErrorMessages: Readonly<Record<ErrorCode, string>> = {
  AUTHENTICATION_FAILED: 'Invalid or missing JWT token',
  PERMISSION_DENIED: 'Permission denied',
  RATE_LIMIT_EXCEEDED: 'Rate limit exceeded',
  INVALID_JSON: 'Malformed message: not valid JSON',
  INVALID_MESSAGE: 'Message does not match its schema',
  UNKNOWN_MESSAGE_TYPE: 'Unsupported message type',
  ROOM_NOT_FOUND: "Room doesn't exist",
  NOT_IN_ROOM: 'Not a member of this room',
  VERSION_CONFLICT: 'Stale version',
  MESSAGE_TOO_LARGE: 'Message too large',
  CONNECTION_LIMIT: 'Too many connections',
  UPSTREAM_UNAVAILABLE: 'Upstream service unavailable',
  INTERNAL_ERROR: 'Server-side error',
};

/** The error body as it travels: in acks, `error` events, `connect_error` data. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** Extra, code-specific detail (zod issue paths, the current cell on a conflict, ...). */
  [detail: string]: unknown;
}

/** The one error class of the gateway: a code, a message, and optional detail for the client. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message?: string, details: Record<string, unknown> = {}) {
    super(message ?? defaultErrorMessages[code]);
    this.name = 'GatewayError';
    this.code = code;
    this.details = details;
  }

  toBody(): ErrorBody {
    return { ...this.details, code: this.code, message: this.message };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ErrorCodes, value);
}

/** Any thrown value to a GatewayError; unknown failures become INTERNAL_ERROR without leaking text. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError(ErrorCodes.INTERNAL_ERROR);
}
