import { ErrorCodes, GatewayError } from '../../shared/errors';
import { isRetryableStatus } from './retry';
import { AttemptFailure, errorMessageOf, upstreamText } from './stream-chunks';

/** Enough of an error body to find its message. */
const MAX_ERROR_BODY_BYTES = 16 * 1024;
const ignore = (): void => undefined;

/**
 * What a non-2xx answer of the AI upstream means for the caller: 401/403 a refused key
 * (PERMISSION_DENIED: retrying cannot help), 400/422 a request the upstream rejects
 * (INVALID_MESSAGE, with its message, which often says why: context too long, unknown model
 * parameter), anything else UPSTREAM_UNAVAILABLE, retryable for 429/502/503 with the upstream's
 * Retry-After. The body is read (bounded) only when its message is used, else released at once.
 */
export async function statusFailure(response: Response, apiKey: string | undefined): Promise<AttemptFailure> {
  const { status } = response;
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
  response.body?.cancel().catch(ignore);
  if (status === 401 || status === 403) {
    return new AttemptFailure(new GatewayError(ErrorCodes.PERMISSION_DENIED, 'AI upstream refused the API key', { status }), false);
  }
  const error = new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, `AI upstream answered ${status}`, { status });
  return new AttemptFailure(error, isRetryableStatus(status), response.headers.get('retry-after'));
}

async function readBounded(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  try {
    while (bytes < MAX_ERROR_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      bytes += value.byteLength;
      text += decoder.decode(value, { stream: true });
    }
    return text;
  } catch {
    return text; // the status already says what happened; its text is a bonus
  } finally {
    reader.cancel().catch(ignore);
  }
}
