import { connectV4, waitFor, request } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import { closeNatives, connectWorkspace, Endpoints, openNative, refusedNative, wsUrl } from './support/native';
import { rawUpgrade } from './support/raw-upgrade';
import { token } from './support/tokens';

cleanUpAfterEach();
afterEach(() => closeNatives());

describe('refusals close before any data', () => {
  it('closes with 1008 for a missing, invalid or expired token on every handshake-token endpoint', async () => {
    const gw = await startGateway();
    expect(await refusedNative(wsUrl(gw, Endpoints.workspace))).toEqual({ code: 1008, reason: 'Missing token', frames: [] });
    expect(await refusedNative(wsUrl(gw, Endpoints.agents, { token: 'garbage' }))).toEqual({ code: 1008, reason: 'Invalid token', frames: [] });
    const expired = token({ sub: 'late' }, { expiresIn: -10 });
    expect(await refusedNative(wsUrl(gw, Endpoints.calculations(expired)))).toEqual({ code: 1008, reason: 'Token expired', frames: [] });
    expect(await refusedNative(wsUrl(gw, Endpoints.chat, { token: 'garbage', contextId: 'c' }))).toEqual({ code: 1008, reason: 'Invalid token', frames: [] });
    const wrongKey = await refusedNative(wsUrl(gw, Endpoints.workspace), { headers: { Authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' } });
    expect(wrongKey).toEqual({ code: 1008, reason: 'Invalid token', frames: [] });
  });

  it('closes with 1008 for an origin outside ALLOWED_ORIGINS and accepts a wildcard match', async () => {
    const gw = await startGateway({ ALLOWED_ORIGINS: 'https://app.example.com,https://*.example.org' });
    const t = token({ sub: 'o' });
    expect(await refusedNative(wsUrl(gw, Endpoints.workspace, { token: t }), { origin: 'https://evil.example.net' })).toEqual({
      code: 1008,
      reason: 'Origin not allowed',
      frames: [],
    });
    const ok = await openNative(wsUrl(gw, Endpoints.workspace, { token: t }), { origin: 'https://tenant.example.org' });
    ok.send({ type: 'ping' });
    expect(await ok.next('pong')).toMatchObject({ type: 'pong' });
  });

  it('closes with 1013 when the pod is at MAX_CONNECTIONS, counting Socket.IO and native clients together', async () => {
    const gw = await startGateway({ MAX_CONNECTIONS: '2' });
    await connectV4(urlOf(gw), token({ sub: 'a' }));
    await connectWorkspace(gw, token({ sub: 'b' }));
    expect(await refusedNative(wsUrl(gw, Endpoints.agents, { token: token({ sub: 'c' }) }))).toEqual({
      code: 1013,
      reason: 'Server at capacity, try again later',
      frames: [],
    });
    expect(await refusedNative(wsUrl(gw, Endpoints.streaming))).toMatchObject({ code: 1013 });
  });

  it('answers an unknown path with 404 and leaves /socket.io/ to engine.io', async () => {
    const gw = await startGateway();
    // Paths Engine.IO does not serve (its prefix is '/socket.io/') are answered here, not left hanging.
    for (const path of ['/api/v2/ws', '/socket.io', '/socket.io?EIO=4&transport=websocket', '/socket.iox/']) {
      const { chunks, closed } = await rawUpgrade(gw.port, path);
      await closed;
      expect(Buffer.concat(chunks).toString().startsWith('HTTP/1.1 404')).toBe(true);
    }
    expect((await connectV4(urlOf(gw), token({ sub: 's' }))).connected).toBe(true);
  });
});

describe('limits on a live connection', () => {
  it('sends MESSAGE_TOO_LARGE and closes with 1009 for a frame over MAX_MESSAGE_BYTES', async () => {
    const gw = await startGateway({ MAX_MESSAGE_BYTES: '1024' });
    const ws = await connectWorkspace(gw, token({ sub: 'big' }));
    ws.send({ type: 'join_room', room_id: 'x'.repeat(2000) });
    expect(await ws.next('error')).toMatchObject({ code: 'MESSAGE_TOO_LARGE', error: 'Message of 2033 bytes exceeds the limit of 1024', limit: 1024 });
    expect(await ws.closed).toEqual({ code: 1009, reason: 'Message too big' });

    const huge = await connectWorkspace(gw, token({ sub: 'huge' }));
    huge.send('x'.repeat((1 << 20) + 1));
    expect((await huge.closed).code).toBe(1009);
  });

  it('keeps the connection open after INVALID_JSON, unknown or reserved types, and serves binary JSON frames', async () => {
    const gw = await startGateway();
    const ws = await connectWorkspace(gw, token({ sub: 'messy' }));
    ws.send('{"type": "join_room", ');
    expect(await ws.next('error')).toMatchObject({ code: 'INVALID_JSON', error: 'Malformed message: not valid JSON' });
    for (const type of ['disconnect', 'connect', 'newListener', 'no_such_type']) {
      ws.send({ type });
      expect(await ws.next('error')).toMatchObject({ code: 'UNKNOWN_MESSAGE_TYPE', error: `Unsupported message type: ${type}` });
    }
    ws.send([1, 2, 3]);
    expect(await ws.next('error')).toMatchObject({ code: 'INVALID_MESSAGE', error: 'Message must be a JSON object' });
    ws.send(Buffer.from(JSON.stringify({ type: 'join_room', room_id: 'binary' })), { binary: true });
    expect(await ws.next('room_state')).toMatchObject({ room_id: 'binary', total_users: 1 });
    ws.send(Buffer.from([0xff, 0xfe, 0x00]), { binary: true });
    expect(await ws.next('error')).toMatchObject({ code: 'INVALID_JSON' });
    ws.send(`${'['.repeat(40)}${']'.repeat(40)}`);
    expect(await ws.next('error')).toMatchObject({ code: 'INVALID_MESSAGE', error: 'Message nests deeper than 32 levels' });
    ws.send({ type: 'ping' });
    expect(await ws.next('pong')).toMatchObject({ type: 'pong' });
  });

  it('drops a client that stops answering WebSocket pings, and presence lets it go', async () => {
    // The mute client is dropped ~2 s after it connects: time enough, even on a loaded machine, for
    // the watcher to see it in the room first (room_state pushes are not coalesced here), and the
    // clients that do answer (all in this process, as the gateway is) a second to do it: with 400 ms,
    // an event loop held up that long by a busy machine was enough to drop them too.
    const gw = await startGateway({ PING_INTERVAL_MS: '1000', PING_TIMEOUT_MS: '1000', ROOM_STATE_INTERVAL_MS: '0' });
    const watcher = await connectV4(urlOf(gw), token({ sub: 'watcher' }));
    await request(watcher, 'join_room', { room_id: 'r' });
    const alive = await connectWorkspace(gw, token({ sub: 'alive' }));
    const mute = await openNative(wsUrl(gw, Endpoints.workspace, { token: token({ sub: 'mute' }) }), { autoPong: false });
    const pinged = new Promise<void>((resolve) => mute.ws.once('ping', () => resolve()));
    mute.send({ type: 'join_room', room_id: 'r' });
    alive.send({ type: 'join_room', room_id: 'r' });
    await waitFor(watcher, 'room_state', (s) => s.total_users === 3);
    await pinged;
    const reaped = waitFor(watcher, 'room_state', (s) => s.total_users === 2);
    expect((await mute.closed).code).toBe(1006);
    expect((await reaped).users.map((u: { user_id: string }) => u.user_id)).toEqual(['alive', 'watcher']);
    alive.send({ type: 'ping' });
    expect(await alive.next('pong')).toMatchObject({ type: 'pong' });
  });
});
