import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { ErrorCodes, GatewayError } from '../../shared/errors';
import { isRetryableStatus } from './retry';
import { AttemptFailure, errorMessageOf, upstreamText } from './stream-chunks';

/** Enough of an error body to find its message. */
const MAX_ERROR_BODY_BYTES = 16 * 1024;

/**
 * What a non-2xx answer of the AI upstream means for the caller: 401/403 a refused key
 * (PERMISSION_DENIED: retrying cannot help), 400/422 a request the upstream rejects
 * (INVALID_MESSAGE, with its message, which often says why: context too long, unknown model
 * parameter), anything else UPSTREAM_UNAVAILABLE, retryable for 429/502/503 with the upstream's
 * Retry-After. The body is read (bounded) only when its message is used; the caller closes the
 * request afterwards.
 */
export async function statusFailure(response: IncomingMessage, apiKey: string | undefined): Promise<AttemptFailure> {
  const status = response.statusCode ?? 0;
  if (status === 400 || status === 422) {
    const text = await readBounded(response);
    let upstream: string | undefined;
    try {
      upstream = errorMessageOf(JSON.parse(text));
    } catch {
      upstream = undefined;
    }
    const message = upstream ? `AI upstream rejected the request: ${upstreamText(upstream, apiKey)}` : 'AI upstream rejected the request';
    return new AttemptFailure(new GatewayError(ErrorCodes.INVALID_MESSAGE, message, { status }), false);
  }
  if (status === 401 || status === 403) {
    return new AttemptFailure(new GatewayError(ErrorCodes.PERMISSION_DENIED, 'AI upstream refused the API key', { status }), false);
  }
  const error = new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, `AI upstream answered ${status}`, { status });
  const retryAfter = response.headers['retry-after'];
  return new AttemptFailure(error, isRetryableStatus(status), typeof retryAfter === 'string' ? retryAfter : undefined);
}

/** The body's first MAX_ERROR_BODY_BYTES (about), or what came before it failed or closed. */
function readBounded(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const decoder = new StringDecoder('utf8');
    let text = '';
    let bytes = 0;
    const done = (): void => {
      response.off('data', onData).off('end', onEnd).off('close', onEnd).off('error', onEnd);
      resolve(text);
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      text += decoder.write(chunk);
      if (bytes >= MAX_ERROR_BODY_BYTES) done();
    };
    const onEnd = (): void => {
      text += decoder.end();
      done();
    };
    // The status already says what happened; the text is a bonus, so an error ends the read quietly.
    response.on('data', onData).on('end', onEnd).on('close', onEnd).on('error', onEnd);
    if (response.destroyed) onEnd();
  });
}
