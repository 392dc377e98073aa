import type { Response } from 'express';
import { ErrorChannels, toGatewayError, type GatewayError } from '../../shared/errors';

/** The body of every HTTP error the gateway answers: `{...details, code, error, timestamp}`. */
export function httpErrorBody(e: GatewayError): Record<string, unknown> {
  return { ...e.details, code: e.code, error: e.message, timestamp: new Date().toISOString() };
}

/** Every HTTP error: the code's status (shared/errors.ts) and its body (httpErrorBody). */
export function sendHttpError(res: Response, err: unknown): void {
  const e = toGatewayError(err);
  res.status(ErrorChannels[e.code].http).json(httpErrorBody(e));
}
