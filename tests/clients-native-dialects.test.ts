import { ClientError, GatewayError, NativeClient, agentsDialect, workspaceDialect, type FetchLike, type NativeClientOptions } from '../clients/src';
import { connectV4, request } from './support/clients';
import { FakeBackend } from './support/fake-backend';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import { token } from './support/tokens';
import { failure, nextEvent as next } from './support/client-events';

// Clients close before the gateways stop (hooks run in the order they are registered).
const clients = new Set<NativeClient>();
afterEach(() => {
  for (const c of clients) c.close();
  clients.clear();
});
cleanUpAfterEach();

/** The URLs the client fetched (service discovery), through the real fetch. */
const fetched: string[] = [];
const recordingFetch: FetchLike = (url, init) => (fetched.push(url), fetch(url, init));
beforeEach(() => (fetched.length = 0));

function client(options: NativeClientOptions): NativeClient {
  const c = new NativeClient({ fetch: recordingFetch, backoff: { initialDelayMs: 20, maxDelayMs: 200 }, ...options });
  clients.add(c);
  return c;
}

describe('the native client, seed 001 envelope (/ws)', () => {
  it('finds /ws through /ws/config, answers requests by correlation_id, and rejects errors as GatewayError', async () => {
    const gw = await startGateway({ MAX_MESSAGE_BYTES: '2048' });
    const c = client({ url: urlOf(gw), dialect: agentsDialect, token: token({ sub: 'ada', rooms: ['lab-*'] }) });
    await c.ready();
    expect(fetched).toEqual([urlOf(gw, '/ws/config')]);
    expect(c.stats.url).toBe(`ws://127.0.0.1:${gw.port}/ws`);

    expect(await c.request('join_room', { room_id: 'lab-1' })).toEqual({ room_id: 'lab-1' });
    const cell = await c.request('cell_update', { sheet_id: 's', cell_id: 'B2', value: 'x' });
    expect(cell.cell.user_id).toBe('ada');
    const conflict = await failure(c.request('cell_update', { sheet_id: 's', cell_id: 'B2', value: 'y', version: 0 }));
    expect(conflict).toBeInstanceOf(GatewayError);
    expect(conflict).toMatchObject({ code: 'VERSION_CONFLICT', details: { current: { version: 1 }, recoverable: true, help: expect.any(String) } });
    expect(await failure(c.request('join_room', { room_id: 'vault' }))).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await failure(c.request('join_room', { room_id: 'x'.repeat(200) }))).toMatchObject({ code: 'INVALID_MESSAGE', details: { issues: [{ path: 'room_id' }] } });

    // The gateway's limit, learnt from discovery: refused here rather than closing the connection (1009).
    const tooLarge = await failure(c.request('message', { content: 'é'.repeat(1500), room_id: 'lab-1' }));
    expect(tooLarge).toMatchObject({ code: 'MESSAGE_TOO_LARGE', details: { max_bytes: 2048 } });

    // Server events arrive typed, in the seed's envelope, from a Socket.IO client in the room.
    const sio = await connectV4(urlOf(gw), token({ sub: 'bob' }), { namespace: '/workspace' });
    await request(sio, 'join_room', { room_id: 'lab-1' });
    const updated = next(c, 'cell_updated', (u) => u.cell_id === 'C3');
    await request(sio, 'cell_update', { sheet_id: 's', cell_id: 'C3', value: 7 });
    expect(await updated).toMatchObject({ sheet_id: 's', cell_id: 'C3', value: 7, user_id: 'bob' });

    expect(c.connected).toBe(true);
    expect(c.stats).toMatchObject({ connects: 1, reconnects: 0, messagesSent: 4, dropped: 0, queued: 0 });
    expect(c.stats.lastLatencyMs).toEqual(expect.any(Number));
  });
});

describe('the native client, seed 002 flat frames (/api/v1/ws)', () => {
  let backend: FakeBackend;
  beforeEach(async () => {
    backend = await FakeBackend.start();
  });
  afterEach(() => backend.close());

  it('answers requests by reply event or request_id, matches errors by message type, and refuses requests the seed never answers', async () => {
    backend.answer('/quote', { body: { price: 42 } }).answer('/deny', { status: 403, body: { detail: 'not yours' } }).answer('/slow', { hang: true });
    const routes = { get_quote: `${backend.url}/quote`, get_secret: `${backend.url}/deny`, get_slow: `${backend.url}/slow` };
    const gw = await startGateway({ RPC_ROUTES: JSON.stringify(routes) });
    const c = client({ url: [urlOf(gw)], dialect: workspaceDialect, token: token({ sub: 'wes' }) });
    await c.ready();
    expect(fetched).toEqual([urlOf(gw, '/ws/config')]);
    expect(c.stats.url).toBe(`ws://127.0.0.1:${gw.port}/api/v1/ws`);

    // Seed 002 answers join_room with nothing but room_state: send it, listen for that.
    const state = next(c, 'room_state', (s) => s.room_id === 'w1');
    c.send('join_room', { room_id: 'w1' });
    expect(await state).toMatchObject({ room_id: 'w1', total_users: 1, users: [{ user_id: 'wes' }] });
    const unsupported = await failure(c.request('join_room', { room_id: 'w2' }));
    expect(unsupported).toBeInstanceOf(ClientError);
    expect(unsupported).toMatchObject({ code: 'UNSUPPORTED', messageType: 'join_room' });

    // Types whose result travels as a reply event.
    expect(await c.request('sheet_state', { sheet_id: 'empty' })).toEqual({ sheet_id: 'empty', cells: {} });
    expect(await c.request('join_session', { sessionId: 'doc-1' })).toMatchObject({ sessionId: 'doc-1', version: 0 });
    expect(await failure(c.request('history', { room_id: 'never-joined' }))).toMatchObject({ code: 'NOT_IN_ROOM' });

    // RPC_ROUTES types: `<type>_result` and errors carry the request_id.
    expect(await c.call('get_quote', { symbol: 'ACME' })).toEqual({ price: 42 });
    expect(await failure(c.call('get_secret', {}))).toMatchObject({ code: 'PERMISSION_DENIED', message: 'not yours' });
    expect(await failure(c.call('get_slow', {}, { timeoutMs: 300 }))).toMatchObject({ code: 'TIMEOUT', messageType: 'get_slow' });

    // A failed send answers nobody: it is an `error` event.
    c.send('cell_update', { sheet_id: 's', cell_id: 'A1', value: 1 });
    const stale = next(c, 'error');
    c.send('cell_update', { sheet_id: 's', cell_id: 'A1', value: 2, version: 0 });
    expect(await stale).toMatchObject({ code: 'VERSION_CONFLICT', details: { message_type: 'cell_update', current: { version: 1 } } });
  });
});
