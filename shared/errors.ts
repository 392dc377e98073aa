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

/** Close codes of the public contract for native clients. */
export const CloseCodes = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  TRY_AGAIN_LATER: 1013,
} as const;
export type CloseCode = (typeof CloseCodes)[keyof typeof CloseCodes];

/**
 * The one table from error code to its way out on each channel: the HTTP status of the REST API,
 * and the close code a native client gets when the error ends its connection (a refused
 * handshake, an expired token, sustained abuse). Per message the error always travels as the ack
 * `{ok: false, error}` or the `error` event, whatever the code.
 */
export const ErrorChannels: Readonly<Record<ErrorCode, { readonly http: number; readonly close: CloseCode }>> = {
  AUTHENTICATION_FAILED: { http: 401, close: CloseCodes.POLICY },
  PERMISSION_DENIED: { http: 403, close: CloseCodes.POLICY },
  RATE_LIMIT_EXCEEDED: { http: 429, close: CloseCodes.POLICY },
  INVALID_JSON: { http: 400, close: CloseCodes.POLICY },
  INVALID_MESSAGE: { http: 400, close: CloseCodes.POLICY },
  UNKNOWN_MESSAGE_TYPE: { http: 400, close: CloseCodes.POLICY },
  ROOM_NOT_FOUND: { http: 404, close: CloseCodes.POLICY },
  NOT_IN_ROOM: { http: 409, close: CloseCodes.POLICY },
  VERSION_CONFLICT: { http: 409, close: CloseCodes.POLICY },
  MESSAGE_TOO_LARGE: { http: 413, close: CloseCodes.TOO_BIG },
  CONNECTION_LIMIT: { http: 429, close: CloseCodes.POLICY },
  UPSTREAM_UNAVAILABLE: { http: 503, close: CloseCodes.INTERNAL },
  INTERNAL_ERROR: { http: 500, close: CloseCodes.INTERNAL },
};

/**
 * A refusal because this pod is full (MAX_CONNECTIONS), not because of the client: the code is
 * CONNECTION_LIMIT and the detail `capacity: true`, which native clients get as 1013 (try again
 * later, elsewhere) rather than 1008.
 */
export const CAPACITY_DETAIL = 'capacity';

/** The close code for an error that ends a native connection. */
export function closeCodeFor(code: ErrorCode, details?: Readonly<Record<string, unknown>>): CloseCode {
  if (code === ErrorCodes.CONNECTION_LIMIT && details?.[CAPACITY_DETAIL] === true) return CloseCodes.TRY_AGAIN_LATER;
  return ErrorChannels[code].close;
}

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

/**
 * A GatewayError without a stack trace, for refusals on hot paths (a rate limit answering a flood):
 * they are answers to the client, not bugs to debug, and capturing a stack per refused frame is
 * a large part of what refusing costs.
 */
export function refusal(code: ErrorCode, message?: string, details: Record<string, unknown> = {}): GatewayError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new GatewayError(code, message, details);
  } finally {
    Error.stackTraceLimit = limit;
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

/** A schema issue as zod reports it (structural: this module does not depend on zod). */
export interface SchemaIssue {
  readonly path: ReadonlyArray<PropertyKey>;
  readonly message: string;
}

/**
 * INVALID_MESSAGE for a value its schema refused, as the gateway reports it everywhere (a message
 * payload, a REST body) and its clients before sending: `Invalid <what>: <path>: <message>; ...`
 * (`whole` names an issue at the root) and `details.issues` with each issue's dot path.
 */
export function schemaRefusal(what: string, issues: readonly SchemaIssue[], whole: string, details: Record<string, unknown> = {}): GatewayError {
  const listed = issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  const text = listed.map((i) => `${i.path || whole}: ${i.message}`).join('; ');
  return new GatewayError(ErrorCodes.INVALID_MESSAGE, `Invalid ${what}: ${text}`, { issues: listed, ...details });
}
