import { connectV4 } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import { closeNatives, connectAgents, connectCalculations, connectLearning, connectStreaming, connectWorkspace, openNative, wsUrl } from './support/native';
import { token } from './support/tokens';

cleanUpAfterEach();
afterEach(() => closeNatives());

describe('GET /ws/config (seed 001 service discovery)', () => {
  it("answers without a token with this gateway's configured limits and endpoints, each of which serves", async () => {
    const gw = await startGateway({
      WEBSOCKET_MAX_CONNECTIONS_PER_USER: '7',
      WEBSOCKET_REQUESTS_PER_MINUTE: '42',
      NATIVE_HEARTBEAT_MS: '1234',
      MAX_MESSAGE_BYTES: '5000',
    });
    const res = await fetch(urlOf(gw, '/ws/config'));
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body).toEqual({
      websocket_config: {
        version: '1.0',
        features: { json_first: true, auth_required: true, heartbeat_supported: true, reconnection_supported: true },
        endpoints: {
          websocket: '/ws',
          socket_io: '/socket.io',
          workspace: '/api/v1/ws',
          calculations: '/api/websockets/ws/{token}',
          streaming: '/api/streaming/ws',
          streaming_root: '/',
          chat: '/api/chat/ws',
          analytics: '/api/analytics/ws',
          collaboration: '/api/collaboration/ws',
        },
        connection_limits: { max_connections_per_user: 7, max_message_rate: 42, heartbeat_interval: 1234, max_message_size: 5000 },
      },
    });

    // What it says is what a client meets: seed 001's greeting carries the same numbers ...
    const t = token({ sub: 'discoverer' });
    const agent = await connectAgents(gw, t);
    expect(agent.received[0].payload).toMatchObject({ heartbeat_interval: 1234, max_message_size: 5000 });
    // ... every endpoint it lists accepts a client ...
    const { endpoints } = body.websocket_config;
    await connectWorkspace(gw, t);
    await connectCalculations(gw, t);
    await connectStreaming(gw, t);
    const atRoot = await openNative(wsUrl(gw, endpoints.streaming_root));
    atRoot.send({ type: 'auth', data: { token: token({ sub: 'someone-else' }) } });
    await atRoot.next('auth_success');
    for (const path of [endpoints.chat, endpoints.analytics, endpoints.collaboration]) await connectLearning(gw, path, t);
    expect(endpoints.socket_io).toBe('/socket.io');
    (await connectV4(urlOf(gw), token({ sub: 'someone-else' }))).close();
    // ... and the user now holds max_connections_per_user (7) connections: the next is refused.
    await expect(connectV4(urlOf(gw), t)).rejects.toThrow('CONNECTION_LIMIT');
  });

  it('reports a limit that is off as null, and lets browsers of allowed origins read it cross-origin', async () => {
    const gw = await startGateway({ WEBSOCKET_MAX_CONNECTIONS_PER_USER: '0', WEBSOCKET_REQUESTS_PER_MINUTE: '0', ALLOWED_ORIGINS: 'https://*.example.com' });
    const allowed = await fetch(urlOf(gw, '/ws/config'), { headers: { Origin: 'https://app.example.com' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(allowed.headers.get('vary')).toMatch(/Origin/);
    expect(((await allowed.json()) as any).websocket_config.connection_limits).toMatchObject({ max_connections_per_user: null, max_message_rate: null });
    const foreign = await fetch(urlOf(gw, '/ws/config'), { headers: { Origin: 'https://evil.test' } });
    expect(foreign.status).toBe(200);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });
});
