import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * One upstream endpoint POSTed to with `node:http` / `node:https` on a keep-alive pool of its own:
 * the response body arrives as a plain push stream (a `Buffer` per TCP read), without undici's
 * wasm parser, WHATWG streams and a promise per read that Node's `fetch` adds to every SSE chunk.
 */
export interface Upstream {
  /**
   * Sends `body` and resolves with the request and its response once the response head arrives;
   * rejects with the request's error (a system error with its `code`, ECONNREFUSED...). Aborting
   * `signal` destroys the request, before or after the head (the response then closes unfinished).
   * `request.lastError` keeps the last error of the connection (ECONNRESET on a reset mid-body).
   */
  post(headers: OutgoingHttpHeaders, body: string, signal: AbortSignal): Promise<{ request: PostRequest; response: IncomingMessage }>;
}

export type PostRequest = ClientRequest & { lastError?: NodeJS.ErrnoException };

/** Idle pooled connections close after this (undici's keep-alive default, under Node servers' 5 s). */
const IDLE_SOCKET_MS = 4_000;

export function createUpstream(url: string): Upstream {
  const target = new URL(url);
  const https = target.protocol === 'https:';
  const agent = https ? new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }) : new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
  const send = https ? httpsRequest : httpRequest;
  return {
    post: (headers, body, signal) =>
      new Promise((resolve, reject) => {
        const request: PostRequest = send(target, { method: 'POST', agent, signal, headers: { ...headers, 'Content-Length': Buffer.byteLength(body) } });
        // Kept for the whole exchange: an 'error' without a listener would throw.
        request.on('error', (err) => {
          request.lastError = err;
          reject(err);
        });
        request.once('response', (response) => resolve({ request, response }));
        request.end(body);
      }),
  };
}
