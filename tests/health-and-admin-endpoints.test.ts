import { connectV2, connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { adminToken, token } from './support/tokens';
import { cleanUpAfterEach } from './support/lifecycle';
import { FLUSH_BEFORE_CLOSE_MS } from '../server/disconnect';

cleanUpAfterEach();

const get = (url: string, bearer?: string) =>
  fetch(url, { headers: bearer ? { Authorization: `Bearer ${bearer}` } : {} }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

describe('HTTP endpoints of one pod', () => {
  it('answers liveness, readiness and seed 002 health without a token', async () => {
    const gw = await startGateway();
    expect(await get(urlOf(gw, '/healthz'))).toEqual({ status: 200, body: { status: 'alive' } });
    expect(await get(urlOf(gw, '/readyz'))).toEqual({ status: 200, body: { ready: true, redis: 'disabled', shutting_down: false } });
    const health = await get(urlOf(gw, '/api/v1/ws/health'));
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'healthy', pod: gw.config.podId, redis: 'disabled', connections: 0 });
  });

  it('sends security headers on every HTTP response, Express routes and engine.io polling alike', async () => {
    const gw = await startGateway();
    for (const path of ['/healthz', '/api/v1/ws/stats', '/no-such-route']) {
      const res = await fetch(urlOf(gw, path));
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('content-security-policy')).toMatch(/default-src/);
      expect(res.headers.get('x-powered-by')).toBeNull();
      await res.arrayBuffer(); // read to the end: an unread body keeps its connection busy
    }
    const polling = await fetch(urlOf(gw, '/socket.io/?EIO=4&transport=polling'));
    expect(polling.status).toBe(200);
    expect(polling.headers.get('x-content-type-options')).toBe('nosniff');
    expect(polling.headers.get('referrer-policy')).toBe('no-referrer');
    // Every later poll of the connection too, not only its handshake.
    const sid = (JSON.parse((await polling.text()).slice(1)) as { sid: string }).sid;
    const poll = await fetch(urlOf(gw, `/socket.io/?EIO=4&transport=polling&sid=${sid}`), { method: 'POST', body: '1' });
    expect(poll.status).toBe(200);
    expect(poll.headers.get('x-content-type-options')).toBe('nosniff');
    expect(poll.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    await poll.arrayBuffer();
  });

  it('guards stats and rooms with an admin token', async () => {
    const gw = await startGateway();
    expect((await get(urlOf(gw, '/api/v1/ws/stats'))).status).toBe(401);
    expect((await get(urlOf(gw, '/api/v1/ws/rooms'), 'bogus')).body.code).toBe('AUTHENTICATION_FAILED');
    const notAdmin = await get(urlOf(gw, '/api/v1/ws/stats'), token({ sub: 'u', roles: ['editor'] }));
    expect(notAdmin).toMatchObject({ status: 403, body: { code: 'PERMISSION_DENIED' } });
  });

  it('reports seed 002 stats and rooms', async () => {
    const gw = await startGateway();
    const a = await connectV4(urlOf(gw), token({ sub: 'a' }));
    const b = await connectV2(urlOf(gw), token({ sub: 'b' }));
    await request(a, 'join_room', { room_id: 'workspace_123' });
    const both = waitFor(a, 'room_state', (s) => s.total_users === 2);
    await request(b, 'join_room', { room_id: 'workspace_123' });
    await both;
    await request(a, 'typing_start', { room: 'workspace_123' });
    await request(b, 'cell_update', { sheet_id: 'sheet_1', cell_id: 'A1', value: 1 });

    const stats = await get(urlOf(gw, '/api/v1/ws/stats'), adminToken());
    expect(stats.body).toEqual({
      total_connections: 2,
      authenticated_connections: 2,
      rooms_active: 1,
      messages_per_second: expect.any(Number),
      uptime_seconds: expect.any(Number),
      pods: 1,
      partial: false,
    });
    expect(stats.body.messages_per_second).toBeGreaterThan(0);

    const rooms = await get(urlOf(gw, '/api/v1/ws/rooms'), adminToken());
    expect(rooms.body).toEqual([
      {
        room_id: 'workspace_123',
        user_count: 2,
        active_sheets_count: 1,
        last_activity: expect.stringMatching(/^\d{4}-/),
        messages_sent: 6, // two user_joined, two room_state pushes, one typing event, one cell_updated
        avg_users_per_hour: 2,
      },
    ]);
  });

  it('on close, tells connected clients to reconnect elsewhere and accepts no one new', async () => {
    const gw = await startGateway();
    const socket = await connectV4(urlOf(gw), token({ sub: 'a' }));
    const reason = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    await gw.close();
    expect(await reason).toBe('transport close');
    await expect(connectV4(urlOf(gw), token({ sub: 'b' }))).rejects.toThrow();
  });

  it('on close, lets go of a long-polling client that polls no more once the flush bound is over, not 30 s later', async () => {
    const gw = await startGateway();
    const handshake = await fetch(urlOf(gw, '/socket.io/?EIO=4&transport=polling'));
    await handshake.arrayBuffer(); // the session is open; this client never polls again
    const [conn] = Object.values((gw.io.engine as unknown as { clients: Record<string, { once(event: 'close', listener: () => void): void }> }).clients);
    const closed = new Promise<number>((resolve) => conn.once('close', () => resolve(Date.now())));
    const started = Date.now();
    await gw.close();
    // engine.io's own wait for the next poll is 30 s; the gateway's flush bound is FLUSH_BEFORE_CLOSE_MS.
    expect((await closed) - started).toBeLessThan(FLUSH_BEFORE_CLOSE_MS + 8000);
  });
});
