import { Router } from 'express';
import type { WsConfigAnswer } from '../../shared/rest';
import { createOriginCheck } from '../auth/origins';
import type { Config } from '../config';

/**
 * The endpoints a client may connect to: seed 001's `websocket` first (its frontends read that
 * key), then every native endpoint of the public contract (server/compat/endpoints.ts) and the
 * Socket.IO path.
 */
const ENDPOINTS: Readonly<Record<string, string>> = {
  websocket: '/ws',
  socket_io: '/socket.io',
  workspace: '/api/v1/ws',
  calculations: '/api/websockets/ws/{token}',
  streaming: '/api/streaming/ws',
  /** Seed 003's clients connect to the server's root; the same dialect is served there. */
  streaming_root: '/',
  chat: '/api/chat/ws',
  analytics: '/api/analytics/ws',
  collaboration: '/api/collaboration/ws',
};

/** A limit of 0 is "off" in the configuration; a client is told `null` (no limit), not "zero allowed". */
const limit = (value: number): number | null => (value > 0 ? value : null);

/** Seed 001's answer, from this gateway's configuration (built once: the configuration is frozen). */
export function wsConfig(config: Config): WsConfigAnswer {
  return {
    websocket_config: {
      version: '1.0',
      features: { json_first: true, auth_required: true, heartbeat_supported: true, reconnection_supported: true },
      endpoints: { ...ENDPOINTS },
      connection_limits: {
        max_connections_per_user: limit(config.limits.maxConnectionsPerUser),
        max_message_rate: limit(config.limits.userRequestsPerMinute),
        heartbeat_interval: config.nativeHeartbeatMs,
        max_message_size: config.maxMessageBytes,
      },
    },
  };
}

/**
 * `GET /ws/config`, seed 001's service discovery: no token (a frontend reads it before it has a
 * connection). Browsers on an allowed origin (ALLOWED_ORIGINS) may read it cross-origin, as they
 * may connect.
 */
export function wsConfigRouter(config: Config): Router {
  const router = Router();
  const body = wsConfig(config);
  const originAllowed = createOriginCheck(config.allowedOrigins);
  router.get('/ws/config', (req, res) => {
    const origin = req.headers.origin;
    if (origin !== undefined && originAllowed(origin)) {
      res.set({ 'Access-Control-Allow-Origin': origin, 'Cross-Origin-Resource-Policy': 'cross-origin' });
    }
    res.vary('Origin').set('Cache-Control', 'no-cache').json(body);
  });
  return router;
}
