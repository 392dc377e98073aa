import { ErrorCodes, GatewayError, isErrorCode, type ErrorBody, type ErrorCode } from '../../../shared/errors';
import { isRecord } from '../../../shared/records';

export { ErrorCodes, GatewayError, type ErrorBody, type ErrorCode };

/**
 * What went wrong on the client's side, not the gateway's: no answer in time, the connection
 * dropped with the request in flight, the offline queue overflowed, the client was closed, or the
 * dialect has no way to answer that request. The gateway's own refusals are GatewayError.
 */
export type ClientErrorCode = 'TIMEOUT' | 'DISCONNECTED' | 'DROPPED' | 'CLOSED' | 'UNSUPPORTED';

export class ClientError extends Error {
  readonly code: ClientErrorCode;
  /** The message type of the request that failed, when there was one. */
  readonly messageType?: string;

  constructor(code: ClientErrorCode, message: string, messageType?: string) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
    this.messageType = messageType;
  }
}


/**
 * A GatewayError from any of the gateway's error shapes: an ack's `{code, message, ...}`, the
 * `error` event / seed 002 frame `{code, error, message_type, ...}`, seed 001's error payload,
 * a refused handshake's `connect_error` data. Everything else in the body is kept as details.
 */
export function gatewayErrorFrom(body: unknown): GatewayError {
  if (!isRecord(body)) return new GatewayError(ErrorCodes.INTERNAL_ERROR);
  const { code, message, error, type: _type, timestamp: _timestamp, ...details } = body;
  const text = typeof message === 'string' ? message : typeof error === 'string' ? error : undefined;
  return new GatewayError(isErrorCode(code) ? code : ErrorCodes.INTERNAL_ERROR, text, details);
}

/** What was thrown, as an Error (providers and URL functions may throw anything). */
export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
