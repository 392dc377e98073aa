import { performance } from 'node:perf_hooks';
import { ErrorCodes, GatewayError } from '../../shared/errors';
import { isRecord } from '../../shared/records';
import type { Logger } from '../logger';
import { connectionErrorCode } from './retry';

/** Whose request this is, as the backend is told: the caller's own token and user id. */
export interface RpcIdentity {
  /** The caller's raw JWT, forwarded as `Authorization: Bearer` (never logged). */
  readonly token: string;
  /** The caller's `sub`, forwarded as `X-User-Id`. */
  readonly userId: string;
}

/** POSTs one message to a team's backend and answers with its JSON, or throws a GatewayError. */
export interface RpcClient {
  call(url: string, body: unknown, identity: RpcIdentity, signal: AbortSignal): Promise<unknown>;
}

export interface RpcClientOptions {
  /** How long a call may take, answer body included (RPC_TIMEOUT_MS; 29 s, as API Gateway's integrations). */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/** At most this much of a backend's error text reaches the client. */
const MAX_MESSAGE_CHARS = 500;


const clip = (text: string): string => (text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS - 1)}…` : text);

/**
 * The reason a backend gives in a 4xx body: FastAPI's `detail` (a string, or the validation
 * error list `[{loc, msg}]`), or a `message` (Express, Spring, most others).
 */
function backendReason(json: unknown): string | undefined {
  if (!isRecord(json)) return undefined;
  const { detail, message } = json;
  if (typeof detail === 'string' && detail) return clip(detail);
  if (Array.isArray(detail) && detail.length) {
    const parts = detail.map((item) => {
      if (typeof item === 'string') return item;
      if (isRecord(item) && typeof item.msg === 'string') {
        const loc = Array.isArray(item.loc) ? item.loc.filter((p) => p !== 'body').join('.') : '';
        return loc ? `${loc}: ${item.msg}` : item.msg;
      }
      return JSON.stringify(item);
    });
    return clip(parts.join('; '));
  }
  if (isRecord(detail) && typeof detail.message === 'string' && detail.message) return clip(detail.message);
  if (typeof message === 'string' && message) return clip(message);
  return undefined;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** What a failed fetch says about its cause, in words a client can act on (never a header). */
function describeCause(err: unknown): string {
  const code = connectionErrorCode(err);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'connection closed by the backend';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'cannot connect';
    default:
      return code ? `request failed (${code})` : 'request failed';
  }
}

const unavailable = (why: string, details: Record<string, unknown> = {}): GatewayError =>
  new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, `Backend unavailable: ${why}`, details);

/** A URL as it may be logged: its query (which may carry a key) left out. */
function loggableUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

/**
 * The one way the gateway calls a team's HTTP backend on a client's behalf (seed 000's
 * calculations, RPC_ROUTES). The backend, not the gateway, decides what the user may do, so each
 * call carries the caller's own identity (`Authorization: Bearer <token>`, `X-User-Id`) and the
 * backend's verdict comes back in the gateway's error codes:
 * - 2xx with a JSON body → that JSON (204 No Content → null);
 * - 401/403 → PERMISSION_DENIED, 429 → RATE_LIMIT_EXCEEDED (with `retry_after_ms` from
 *   Retry-After), other 4xx → INVALID_MESSAGE; the message is the body's `detail` (FastAPI, string
 *   or validation list) or `message`, and the details carry `{status}`;
 * - 5xx, 3xx (redirects are not followed, so the token never goes elsewhere), a 2xx that is not
 *   JSON, no answer within `timeoutMs`, or no connection → UPSTREAM_UNAVAILABLE "Backend
 *   unavailable: <status or cause>".
 * Node's fetch (undici's global agent) keeps connections alive and pooled per origin, so a call
 * opens no new TCP connection while one is idle. The caller's signal (it disconnected, the pod is
 * shutting down) aborts the HTTP request, and the call rejects with the signal's reason.
 */
export function createRpcClient(options: RpcClientOptions): RpcClient {
  const { timeoutMs } = options;
  const log = options.logger.child({ module: 'rpc' });

  async function call(url: string, body: unknown, identity: RpcIdentity, signal: AbortSignal): Promise<unknown> {
    const aborted = (): GatewayError =>
      signal.reason instanceof GatewayError ? signal.reason : new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, 'Backend call aborted');
    if (signal.aborted) throw aborted();
    const started = performance.now();
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = () => controller.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    let status: number | undefined;
    let outcome = 'ok';
    try {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            Accept: 'application/json',
            Authorization: `Bearer ${identity.token}`,
            'X-User-Id': identity.userId,
          },
          body: JSON.stringify(body ?? {}),
          redirect: 'manual',
          signal: controller.signal,
        });
        status = response.status;
        const text = await response.text();
        return interpret(response, text);
      } catch (err) {
        if (err instanceof GatewayError) throw err;
        if (timedOut) throw unavailable(`no answer within ${timeoutMs} ms`, { timeout_ms: timeoutMs });
        if (signal.aborted) throw aborted();
        throw unavailable(describeCause(err));
      }
    } catch (err) {
      outcome = err instanceof GatewayError ? err.code : 'error';
      if (outcome === ErrorCodes.UPSTREAM_UNAVAILABLE && !signal.aborted) {
        log.warn('backend call failed', { url: loggableUrl(url), user_id: identity.userId, status, error: (err as Error).message });
      }
      throw err;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (log.isLevelEnabled('debug')) {
        log.debug('backend call', { url: loggableUrl(url), user_id: identity.userId, status, outcome, ms: Math.round(performance.now() - started) });
      }
    }
  }

  function interpret(response: Response, text: string): unknown {
    const { status } = response;
    if (status >= 200 && status < 300) {
      if (status === 204 || status === 205) return null;
      const parsed = parseJson(text);
      if (!parsed.ok) throw unavailable(`HTTP ${status} with a body that is not JSON`, { status });
      return parsed.value;
    }
    if (status >= 400 && status < 500) {
      const parsed = parseJson(text);
      const reason = (parsed.ok ? backendReason(parsed.value) : undefined) ?? `Backend refused the request (HTTP ${status})`;
      if (status === 401 || status === 403) throw new GatewayError(ErrorCodes.PERMISSION_DENIED, reason, { status });
      if (status === 429) {
        const seconds = Number(response.headers.get('retry-after'));
        const retryAfterMs = Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : 1000;
        throw new GatewayError(ErrorCodes.RATE_LIMIT_EXCEEDED, reason, { status, retry_after_ms: retryAfterMs });
      }
      throw new GatewayError(ErrorCodes.INVALID_MESSAGE, reason, { status });
    }
    if (status >= 300 && status < 400) throw unavailable(`HTTP ${status} (redirects are not followed)`, { status });
    throw unavailable(`HTTP ${status}`, { status });
  }

  return { call };
}
