import { ClientError, GatewayError, SocketClient, type SocketClientOptions, type TokenReason } from '../clients/src';
import { collect, connectV4, request, waitFor } from './support/clients';
import { FakeBackend } from './support/fake-backend';
import { startGateway, stopGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import { freePort } from './support/redis';
import { token } from './support/tokens';
import { failure, nextEvent as next } from './support/client-events';

// Clients close before the gateways stop (hooks run in the order they are registered).
const clients = new Set<SocketClient>();
afterEach(() => {
  for (const c of clients) c.close();
  clients.clear();
});
cleanUpAfterEach();

/** A client with fast reconnection (tests wait for events, not for backoff). */
function client(options: SocketClientOptions): SocketClient {
  const c = new SocketClient({ backoff: { initialDelayMs: 20, maxDelayMs: 200 }, ...options });
  clients.add(c);
  return c;
}

describe('the Socket.IO client of clients/', () => {
  it('resolves typed acks, rejects with the GatewayError code and details, and counts what it did', async () => {
    const gw = await startGateway();
    const c = client({ url: urlOf(gw), token: token({ sub: 'sam', rooms: ['open-*'] }), namespace: '/workspace' });
    await c.ready();
    expect(await c.request('join_room', { room_id: 'open-1' })).toEqual({ room_id: 'open-1' });
    const first = await c.request('cell_update', { sheet_id: 's', cell_id: 'A1', value: 1 });
    expect(first).toMatchObject({ version: 1, cell: { value: 1, user_id: 'sam' } });

    const conflict = await failure(c.request('cell_update', { sheet_id: 's', cell_id: 'A1', value: 2, version: 0 }));
    expect(conflict).toBeInstanceOf(GatewayError);
    expect(conflict).toMatchObject({ code: 'VERSION_CONFLICT', details: { cell_id: 'A1', current: { version: 1, value: 1 } } });
    expect(await failure(c.request('join_room', { room_id: 'closed' }))).toMatchObject({ code: 'PERMISSION_DENIED', details: { room_id: 'closed' } });
    // Served on /calculations, not here: the gateway's refusal.
    expect(await failure(c.request('calculate', { chart_id: 'c', calculation_type: 'houses' }))).toMatchObject({ code: 'UNKNOWN_MESSAGE_TYPE' });

    // An invalid payload is refused before it leaves, with the gateway's code and issue paths...
    const local = await failure(c.request('cell_update', { sheet_id: '', cell_id: 'A1', value: 1 }));
    expect(local).toMatchObject({ code: 'INVALID_MESSAGE', details: { issues: [{ path: 'sheet_id' }] } });
    // ...the same answer the gateway gives a client that does not check.
    const unchecked = client({ url: urlOf(gw), token: token({ sub: 'uma' }), namespace: '/workspace', validate: false });
    expect(await failure(unchecked.request('cell_update', { sheet_id: '', cell_id: 'A1', value: 1 }))).toMatchObject({
      code: 'INVALID_MESSAGE',
      details: { issues: [{ path: 'sheet_id' }] },
    });

    // A fire-and-forget send that fails comes back as an `error` event.
    const refused = next(c, 'error');
    c.send('join_room', { room_id: 'also-closed' });
    expect(await refused).toMatchObject({ code: 'PERMISSION_DENIED', details: { message_type: 'join_room', room_id: 'also-closed' } });

    expect(c.stats).toMatchObject({ connected: true, connects: 1, reconnects: 0, messagesSent: 6, queued: 0, dropped: 0 });
    // Five answers, the error event and cell_updated, at least (room_state is pushed without waiting).
    expect(c.stats.messagesReceived).toBeGreaterThanOrEqual(7);
    expect(c.stats.lastLatencyMs).toEqual(expect.any(Number));
  });

  it('rejects a request unanswered in time with ClientError TIMEOUT, and calls RPC routes', async () => {
    const backend = await FakeBackend.start();
    try {
      backend.answer('/calculate', { hang: true }).answer('/quote', { body: { price: 42 } });
      const gw = await startGateway({ CALCULATIONS_URL: `${backend.url}/calculate`, RPC_ROUTES: JSON.stringify({ get_quote: `${backend.url}/quote` }) });
      const calc = client({ url: urlOf(gw), token: token({ sub: 'tim' }), namespace: '/calculations' });
      const started = Date.now();
      const timedOut = await failure(calc.request('calculate', { chart_id: 'c1', calculation_type: 'houses' }, { timeoutMs: 300 }));
      expect(timedOut).toBeInstanceOf(ClientError);
      expect(timedOut).toMatchObject({ code: 'TIMEOUT', messageType: 'calculate' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);

      const root = client({ url: urlOf(gw), token: token({ sub: 'tim' }) });
      expect(await root.call('get_quote', { symbol: 'ACME' })).toEqual({ price: 42 });
    } finally {
      await backend.close();
    }
  });

  it('surfaces a refused handshake as a GatewayError and does not retry before its retry_after_ms', async () => {
    const gw = await startGateway({ CONNECTIONS_PER_IP_PER_MINUTE: '1' });
    await client({ url: urlOf(gw), token: token({ sub: 'one' }) }).ready();
    const second = client({ url: urlOf(gw), token: token({ sub: 'two' }) });
    const [refused, retry] = await Promise.all([next(second, 'connect_error'), next(second, 'reconnect_attempt')]);
    expect(refused).toBeInstanceOf(GatewayError);
    expect(refused).toMatchObject({ code: 'CONNECTION_LIMIT', details: { retry_after_ms: expect.any(Number) } });
    const retryAfter = (refused as GatewayError).details.retry_after_ms as number;
    expect(retryAfter).toBeGreaterThan(1000);
    expect(retry.delayMs).toBeGreaterThanOrEqual(retryAfter);
    expect(second.stats).toMatchObject({ connected: false, connects: 0, failedAttempts: 1 });
  });

  it('asks the token provider on every handshake: an expired connection comes back with a fresh token and its rooms', async () => {
    const gw = await startGateway({ TOKEN_EXPIRY_WARNING_MS: '0' });
    const reasons: TokenReason[] = [];
    const c = client({
      url: urlOf(gw),
      namespace: '/workspace',
      // The first token lives one to two seconds (JWT expiry is in whole seconds: `1` could leave a
      // slow handshake an already expired token); later ones an hour.
      token: (reason) => (reasons.push(reason), token({ sub: 'exp' }, { expiresIn: reasons.length === 1 ? 2 : 3600 })),
    });
    await c.ready();
    await c.request('join_room', { room_id: 'kept' });

    const expired = next(c, 'error', (e) => e.code === 'AUTHENTICATION_FAILED');
    const dropped = next(c, 'disconnect');
    const back = next(c, 'connect', (info) => info.reconnect, 8000);
    const rejoined = next(c, 'room_state', (s) => s.room_id === 'kept', 8000);
    expect((await expired).message).toBe('Token expired');
    expect((await dropped).reason).toBe('transport close');
    await back;
    await rejoined;
    expect(reasons).toEqual(['connect', 'reconnect']);
    expect(c.stats).toMatchObject({ connects: 2, reconnects: 1 });
    expect(await c.request('leave_room', { room_id: 'kept' })).toEqual({ room_id: 'kept' });
  });

  it('refreshes a live token on token_expiring, so the connection outlives its first token', async () => {
    const gw = await startGateway({ TOKEN_EXPIRY_WARNING_MS: '1500' });
    const reasons: TokenReason[] = [];
    const firstExpiry = Date.now() + 2000;
    const c = client({ url: urlOf(gw), token: (reason) => (reasons.push(reason), token({ sub: 'liv' }, { expiresIn: reason === 'expiring' ? 3600 : 2 })) });
    const refreshed = await next(c, 'token_refreshed');
    expect(Date.parse(refreshed.expiresAt!)).toBeGreaterThan(Date.now() + 3_000_000);
    // Past the first token's expiry (nothing to await: the proof is that nothing happens).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstExpiry - Date.now()) + 500));
    expect(await c.request('join_room', { room_id: 'still' })).toEqual({ room_id: 'still' });
    expect(reasons).toEqual(['connect', 'expiring']);
    expect(c.stats).toMatchObject({ connects: 1, reconnects: 0 });
  });

  it('queues while offline within its bound (oldest volatile dropped first, then the oldest) and flushes in order after reconnecting', async () => {
    const port = await freePort();
    const first = await startGateway({ PORT: String(port), DRAIN_MS: '0' });
    let release = (): void => undefined;
    let gate = Promise.resolve();
    const c = client({ url: () => gate.then(() => urlOf(port)), token: token({ sub: 'que' }), queueSize: 4 });
    await c.ready();
    await c.request('join_room', { room_id: 'q' });

    gate = new Promise<void>((resolve) => (release = resolve)); // reconnections wait for the second gateway
    const offline = next(c, 'disconnect');
    await stopGateway(first);
    await offline;

    const dropped: string[] = [];
    c.on('dropped', (m) => dropped.push(m.type));
    c.send('cursor_move', { room: 'q', x: 1, y: 1 }, { volatile: true });
    const one = c.request('message', { content: 'one', room_id: 'q' });
    c.send('message', { content: 'two', room_id: 'q' });
    c.send('cursor_move', { room: 'q', x: 2, y: 2 }, { volatile: true });
    c.send('message', { content: 'three', room_id: 'q' }); // full: the first cursor goes
    c.send('message', { content: 'four', room_id: 'q' }); // the second cursor goes
    const five = c.request('message', { content: 'five', room_id: 'q' }); // no volatile left: the oldest ("one") goes
    expect(await failure(one)).toMatchObject({ code: 'DROPPED', messageType: 'message' });
    expect(dropped).toEqual(['cursor_move', 'cursor_move', 'message']);
    expect(c.stats).toMatchObject({ connected: false, queued: 4, dropped: 3 });

    const second = await startGateway({ PORT: String(port) });
    const observer = await connectV4(urlOf(second), token({ sub: 'obs' }));
    expect(await request(observer, 'join_room', { room_id: 'q' })).toMatchObject({ ok: true });
    const seen = collect<{ content: string }>(observer, 'message');
    const lastDelivered = waitFor(observer, 'message', (m: { content: string }) => m.content === 'five');
    release();
    expect(await five).toEqual({ id: expect.any(String), timestamp: expect.any(String) });
    await lastDelivered;
    expect(seen.map((m) => m.content)).toEqual(['two', 'three', 'four', 'five']);
    expect(c.stats).toMatchObject({ connected: true, connects: 2, reconnects: 1, queued: 0, dropped: 3 });
  });
});
