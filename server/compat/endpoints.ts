import type { Config } from '../config';
import type { Dialect } from './dialect';
import { agentsDialect } from './dialects/agents';
import { calculationsDialect } from './dialects/calculations';
import { learningDialect } from './dialects/learning';
import { streamingDialect } from './dialects/streaming';
import { workspaceDialect } from './dialects/workspace';

/** A matched native endpoint: its dialect and the parameters its path carried. */
export interface Endpoint {
  readonly dialect: Dialect;
  readonly params: Readonly<Record<string, string>>;
  /** One connection per user on this endpoint (a new one replaces the old): the scope's name. */
  readonly exclusiveScope?: string;
}

/** Seed 000 keeps one connection per user: a new connection replaces the user's older ones. */
const CALCULATIONS_SCOPE = 'calculations';

/** The path prefix whose segment after it is the token (seed 000). */
const CALCULATIONS_PREFIX = '/api/websockets/ws/';

/**
 * The native endpoints of the public contract, path to dialect:
 * `/api/v1/ws` seed 002, `/ws` seed 001, `/api/websockets/ws/{token}` seed 000,
 * `/api/streaming/ws` seed 003, `/api/{chat,analytics,collaboration}/ws` seed 004.
 * Seed 003's clients connect to the server's root (`new WebSocket('ws://host:8765')`), so a
 * WebSocket upgrade at `/` speaks seed 003 too: the same dialect object, hence the same frames,
 * outgoing cache entries and metric label (`native:/api/streaming/ws`). Engine.io keeps its own
 * path (`/socket.io`); a plain HTTP `GET /` is not an upgrade and never reaches this lookup.
 * Returns the lookup; a trailing slash is ignored.
 */
export function nativeEndpoints(config: Config): (pathname: string) => Endpoint | undefined {
  const streaming = streamingDialect();
  const exact = new Map<string, Dialect>([
    ['/api/v1/ws', workspaceDialect()],
    ['/ws', agentsDialect(config)],
    ['/api/streaming/ws', streaming],
    ['/', streaming],
    ['/api/chat/ws', learningDialect('chat')],
    ['/api/analytics/ws', learningDialect('analytics')],
    ['/api/collaboration/ws', learningDialect('collaboration')],
  ]);
  const calculations = calculationsDialect();
  return (pathname): Endpoint | undefined => {
    const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
    const dialect = exact.get(path);
    if (dialect) return { dialect, params: {} as Record<string, string> };
    if (path.startsWith(CALCULATIONS_PREFIX)) {
      const segment = path.slice(CALCULATIONS_PREFIX.length);
      if (segment.length === 0 || segment.includes('/')) return undefined;
      try {
        return { dialect: calculations, params: { token: decodeURIComponent(segment) }, exclusiveScope: CALCULATIONS_SCOPE };
      } catch {
        return { dialect: calculations, params: { token: '' }, exclusiveScope: CALCULATIONS_SCOPE };
      }
    }
    return undefined;
  };
}
