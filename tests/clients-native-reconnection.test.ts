import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { NativeClient, agentsDialect, backoffDelay, workspaceDialect, type NativeClientOptions, type TokenReason } from '../clients/src';
import { collect, connectV4, request, waitFor } from './support/clients';
import { startGateway, stopGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import { freePort } from './support/redis';
import { token } from './support/tokens';
import { nextEvent as next } from './support/client-events';

// Clients close before the gateways stop (hooks run in the order they are registered).
const clients = new Set<NativeClient>();
afterEach(() => {
  for (const c of clients) c.close();
  clients.clear();
});
cleanUpAfterEach();

function client(options: NativeClientOptions): NativeClient {
  const c = new NativeClient({ backoff: { initialDelayMs: 20, maxDelayMs: 200 }, ...options });
  clients.add(c);
  return c;
}

/**
 * A TCP relay to a gateway that can be frozen: it stops forwarding without closing anything, as a
 * network partition or a hung pod looks to a client (no FIN, no RST: only silence).
 */
class FreezableRelay {
  private readonly sockets = new Set<Socket>();
  private frozen = false;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<FreezableRelay> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const relay = new FreezableRelay(server, (server.address() as { port: number }).port);
    server.on('connection', (downstream) => {
      const upstream = connect(targetPort, '127.0.0.1');
      for (const [from, to] of [[downstream, upstream], [upstream, downstream]]) {
        relay.sockets.add(from);
        from.on('error', () => undefined);
        from.on('data', (chunk: Buffer) => relay.frozen || to.write(chunk));
        from.on('close', () => relay.frozen || to.destroy());
      }
    });
    return relay;
  }

  freeze(): void {
    this.frozen = true;
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
  }
}

describe('the reconnection schedule', () => {
  it('grows exponentially to its cap, each delay cut at random by up to the jitter', () => {
    const options = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0.5 };
    expect([0, 1, 2, 3, 4, 10, 1000].map((n) => backoffDelay(n, options, () => 0))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect([0, 3, 10].map((n) => backoffDelay(n, options, () => 1))).toEqual([50, 400, 500]);
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(2, options)));
    expect(spread.size).toBeGreaterThan(10); // clients of one pod do not come back together
    expect(Math.min(...spread)).toBeGreaterThanOrEqual(200);
    expect(Math.max(...spread)).toBeLessThanOrEqual(400);
  });
});

describe('the native client keeps its connection alive', () => {
  it('drops a link that stops answering pings and reconnects to the next URL', async () => {
    const gw = await startGateway();
    const relay = await FreezableRelay.start(gw.port);
    try {
      const c = client({ url: [urlOf(relay.port), urlOf(gw)], dialect: workspaceDialect, token: token({ sub: 'pia' }), pingIntervalMs: 100, pingTimeoutMs: 300 });
      await c.ready();
      expect(c.stats.url).toBe(`ws://127.0.0.1:${relay.port}/api/v1/ws`);
      const lost = next(c, 'disconnect');
      const back = next(c, 'connect', (info) => info.reconnect);
      relay.freeze();
      expect(await lost).toEqual({ reason: 'ping timeout', code: 4000 });
      expect(await back).toEqual({ url: `ws://127.0.0.1:${gw.port}/api/v1/ws`, reconnect: true });
      expect(c.stats).toMatchObject({ connected: true, connects: 2, reconnects: 1 });
      expect(c.stats.lastLatencyMs).toEqual(expect.any(Number)); // the pings' round trip
    } finally {
      relay.close();
    }
  });

  it('comes back with a fresh token after seed 002 closes an expired one (1008), and refreshes seed 001 live', async () => {
    const gw = await startGateway({ TOKEN_EXPIRY_WARNING_MS: '1000' });
    const flatReasons: TokenReason[] = [];
    const flat = client({
      url: urlOf(gw),
      dialect: workspaceDialect,
      // JWT expiry is in whole seconds: `expiresIn: 2` leaves 1 to 2 s, never so little that a slow
      // handshake meets an already expired token.
      token: (reason) => (flatReasons.push(reason), token({ sub: 'fay' }, { expiresIn: reason === 'connect' ? 2 : 3600 })),
    });
    const agentReasons: TokenReason[] = [];
    const firstExpiry = Date.now() + 3000;
    const agent = client({
      url: urlOf(gw),
      dialect: agentsDialect,
      // 2 to 3 s: the warning (a second before expiry) leaves a whole second for the refresh.
      token: (reason) => (agentReasons.push(reason), token({ sub: 'abe' }, { expiresIn: reason === 'connect' ? 3 : 3600 })),
    });
    await Promise.all([flat.ready(), agent.ready()]);
    flat.send('join_room', { room_id: 'kept' });

    // Seed 002 cannot refresh a live token: the error frame, close 1008, then a reconnection.
    const expired = next(flat, 'error', (e) => e.code === 'AUTHENTICATION_FAILED');
    const closed = next(flat, 'disconnect');
    const rejoined = next(flat, 'room_state', (s) => s.room_id === 'kept' && flat.stats.reconnects === 1);
    const refreshed = next(agent, 'token_refreshed');
    expect((await expired).message).toBe('Token expired');
    expect(await closed).toEqual({ reason: 'Token expired', code: 1008 });
    await rejoined;
    expect(flatReasons).toEqual(['connect', 'reconnect']);

    // Seed 001 answers token_expiring with its auth message, and outlives its first token.
    await refreshed;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstExpiry - Date.now()) + 500));
    expect(await agent.request('join_room', { room_id: 'kept' })).toEqual({ room_id: 'kept' });
    expect(agentReasons).toEqual(['connect', 'expiring']);
    expect(agent.stats).toMatchObject({ connects: 1, reconnects: 0 });
  });

  it('queues while offline and flushes in order after reconnecting, rooms joined again first (seed 002 and seed 001)', async () => {
    const port = await freePort();
    const first = await startGateway({ PORT: String(port), DRAIN_MS: '0' });
    let release = (): void => undefined;
    let gate = Promise.resolve();
    const url = () => gate.then(() => urlOf(port));
    const flat = client({ url, dialect: workspaceDialect, token: token({ sub: 'flo' }), queueSize: 3 });
    const agent = client({ url, dialect: agentsDialect, token: token({ sub: 'ali' }) });
    await Promise.all([flat.ready(), agent.ready()]);
    flat.send('join_room', { room_id: 'q' });
    await agent.request('join_room', { room_id: 'q' });

    gate = new Promise<void>((resolve) => (release = resolve));
    const offline = [next(flat, 'disconnect'), next(agent, 'disconnect')];
    await stopGateway(first);
    expect(await Promise.all(offline)).toEqual([
      { reason: 'Server shutting down', code: 1001 },
      { reason: 'Server shutting down', code: 1001 },
    ]);

    flat.send('message', { content: 'f1', room_id: 'q' });
    flat.send('cursor_move', { room: 'q', x: 1, y: 2 }, { volatile: true });
    flat.send('message', { content: 'f2', room_id: 'q' });
    flat.send('message', { content: 'f3', room_id: 'q' }); // full: the cursor goes, not a message
    const a1 = agent.request('message', { content: 'a1', room_id: 'q' });
    const a2 = agent.request('message', { content: 'a2', room_id: 'q' });
    expect(flat.stats).toMatchObject({ queued: 3, dropped: 1 });

    const second = await startGateway({ PORT: String(port) });
    const observer = await connectV4(urlOf(second), token({ sub: 'obs' }));
    await request(observer, 'join_room', { room_id: 'q' });
    const seen = collect<{ content: string; author: { userId: string } }>(observer, 'message');
    const allThere = Promise.all(['f3', 'a2'].map((content) => waitFor(observer, 'message', (m: { content: string }) => m.content === content)));
    release();
    expect(await Promise.all([a1, a2])).toEqual([expect.objectContaining({ id: expect.any(String) }), expect.objectContaining({ id: expect.any(String) })]);
    await allThere;
    const from = (user: string) => seen.filter((m) => m.author.userId === user).map((m) => m.content);
    expect(from('flo')).toEqual(['f1', 'f2', 'f3']);
    expect(from('ali')).toEqual(['a1', 'a2']);
    expect(flat.stats).toMatchObject({ connected: true, reconnects: 1, queued: 0, dropped: 1 });
  });
});
