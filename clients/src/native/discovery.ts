import { WsConfigAnswer } from '../../../shared/rest';
import { trimSlash } from '../common/urls';
import type { NativeDialect } from './dialect';

/** The part of `fetch` discovery uses (the global one in browsers and Node 18+). */
export type FetchLike = (url: string, init?: { headers?: Record<string, string> }) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

/** Where to open the WebSocket, and the gateway's frame size limit when it said. */
export interface Endpoint {
  readonly url: string;
  readonly maxMessageBytes?: number;
}

/**
 * Seed 001's service discovery: for a pod's base URL (`http://host:port`, with any path prefix a
 * proxy adds), `GET <base>/ws/config` names the dialect's endpoint path and the largest message.
 * A `ws://` or `wss://` URL with a path is the endpoint itself. A gateway that does not serve
 * /ws/config (404, or discovery off) gets the dialect's usual path. Answers are kept per base URL;
 * an unreachable pod fails the attempt (the client moves on to the next URL).
 */
export class Discovery {
  private readonly known = new Map<string, Endpoint>();

  constructor(
    private readonly dialect: NativeDialect,
    private readonly enabled: boolean,
    private readonly fetchFn?: FetchLike,
  ) {}

  async endpoint(base: string): Promise<Endpoint> {
    const url = new URL(base);
    const root = trimSlash(base.split('?')[0]);
    if (url.protocol === 'ws:' || url.protocol === 'wss:') return { url: url.pathname.length > 1 ? base : `${root}${this.dialect.path}` };
    const known = this.known.get(root);
    if (known) return known;
    const wsRoot = root.replace(/^http/, 'ws');
    const fetchFn = this.fetchFn ?? (globalThis as { fetch?: FetchLike }).fetch;
    if (!this.enabled || !fetchFn) return { url: `${wsRoot}${this.dialect.path}` };
    const res = await fetchFn(`${root}/ws/config`, { headers: { accept: 'application/json' } });
    const parsed = res.ok ? WsConfigAnswer.safeParse(await res.json()) : undefined;
    const config = parsed?.success ? parsed.data.websocket_config : undefined;
    const path = config?.endpoints[this.dialect.discoveryKey];
    const endpoint: Endpoint = {
      url: `${wsRoot}${typeof path === 'string' && path.startsWith('/') ? path : this.dialect.path}`,
      maxMessageBytes: config?.connection_limits.max_message_size,
    };
    this.known.set(root, endpoint);
    return endpoint;
  }
}

/** The endpoint URL with the token in its query (the seeds' `?token=`; browsers cannot set headers). */
export function withToken(url: string, token: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}
