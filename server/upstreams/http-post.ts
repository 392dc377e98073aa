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
   * `request.lastError` keeps the last error of the connection. Like fetch, follows 307 and 308
   * (the POST again, without Authorization on another origin); other statuses are the caller's.
   */
  post(headers: OutgoingHttpHeaders, body: string, signal: AbortSignal): Promise<Exchange>;
  /** Destroys the pool's sockets, idle or not (shutdown: nothing is left open for IDLE_SOCKET_MS). */
  close(): void;
}

export type PostRequest = ClientRequest & { lastError?: NodeJS.ErrnoException };
export interface Exchange {
  readonly request: PostRequest;
  readonly response: IncomingMessage;
}

/** Idle pooled connections close after this (undici's keep-alive default, under Node servers' 5 s). */
const IDLE_SOCKET_MS = 4_000;
/** fetch's bound on redirects. */
const MAX_REDIRECTS = 20;

export function createUpstream(url: string): Upstream {
  const first = new URL(url);
  const agents = new Map<string, HttpAgent>();
  const agentFor = (protocol: string): HttpAgent => {
    let agent = agents.get(protocol);
    if (!agent) {
      agent = protocol === 'https:' ? new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }) : new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
      agents.set(protocol, agent);
    }
    return agent;
  };

  const send = (target: URL, headers: OutgoingHttpHeaders, body: string, signal: AbortSignal): Promise<Exchange> =>
    new Promise((resolve, reject) => {
      const options = { method: 'POST', agent: agentFor(target.protocol), signal, headers: { ...headers, 'Content-Length': Buffer.byteLength(body) } };
      const request: PostRequest = target.protocol === 'https:' ? httpsRequest(target, options) : httpRequest(target, options);
      // Kept for the whole exchange: an 'error' without a listener would throw.
      request.on('error', (err) => {
        request.lastError = err;
        reject(err);
      });
      request.once('response', (response) => resolve({ request, response }));
      request.end(body);
    });

  return {
    async post(headers, body, signal) {
      let target = first;
      for (let redirects = 0; ; redirects++) {
        const exchange = await send(target, headers, body, signal);
        const { statusCode, headers: answer } = exchange.response;
        if ((statusCode !== 307 && statusCode !== 308) || !answer.location || redirects >= MAX_REDIRECTS) return exchange;
        exchange.request.destroy();
        const next = new URL(answer.location, target);
        if (next.origin !== target.origin) headers = Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'));
        target = next;
      }
    },
    close() {
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
    },
  };
}
