import type { IncomingHttpHeaders } from 'node:http';
import type { GatewaySocket } from '../types';

/**
 * A socket as the admin UI lists it (the shape @socket.io/admin-ui's page reads), with everything
 * that could carry a credential left out: the `Authorization`, `Cookie` and API-key headers, any
 * query parameter named like a token or key (also inside the handshake URL), the handshake's
 * `auth`, and the raw token the socket keeps for backend calls. What identifies the user stays.
 */
export interface AdminUiSocket {
  id: string;
  clientId: string;
  transport: string;
  nsp: string;
  data: { user_id: string; username: string; roles: readonly string[]; pod: string };
  handshake: {
    address: string;
    headers: Record<string, string | string[] | undefined>;
    query: Record<string, unknown>;
    issued: number;
    secure: boolean;
    time: string;
    url: string;
    xdomain: boolean;
  };
  rooms: string[];
}

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'x-api-key', 'sec-websocket-key', 'sec-websocket-protocol']);
/** Query parameters that may hold a credential: `token`, `access_token`, `api_key`, `jwt`, `password`, `auth`... */
const SECRET_PARAM = /token|key|secret|passw|auth|jwt|session|signature/i;

function safeHeaders(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(headers)) if (!SECRET_HEADERS.has(name.toLowerCase())) out[name] = value;
  return out;
}

function safeQuery(query: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([name]) => !SECRET_PARAM.test(name)));
}

/** The handshake URL without credential parameters (`/socket.io/?EIO=4&token=x` → `/socket.io/?EIO=4`). */
export function safeUrl(url: string): string {
  const at = url.indexOf('?');
  if (at === -1) return url;
  const params = new URLSearchParams(url.slice(at + 1));
  for (const name of [...params.keys()]) if (SECRET_PARAM.test(name)) params.delete(name);
  const rest = params.toString();
  return rest ? `${url.slice(0, at)}?${rest}` : url.slice(0, at);
}

/** One of this pod's sockets, described for the admin UI. */
export function describeSocket(socket: GatewaySocket, pod: string): AdminUiSocket {
  const { handshake, conn } = socket;
  const principal = socket.data.principal;
  return {
    id: socket.id,
    clientId: (conn as unknown as { id: string }).id.slice(0, 12),
    transport: conn.transport.name,
    nsp: socket.nsp.name,
    data: { user_id: principal?.userId ?? '', username: principal?.username ?? '', roles: principal?.roles ?? [], pod },
    handshake: {
      address: handshake.address,
      headers: safeHeaders(handshake.headers),
      query: safeQuery(handshake.query as Record<string, unknown>),
      issued: handshake.issued,
      secure: handshake.secure,
      time: handshake.time,
      url: safeUrl(handshake.url),
      xdomain: handshake.xdomain,
    },
    rooms: [...socket.rooms],
  };
}
