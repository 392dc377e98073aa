import { collect, connectV2, connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { token } from './support/tokens';
import { cleanUpAfterEach } from './support/lifecycle';

cleanUpAfterEach();

describe('socket.io-client v4 and v2 in the same room', () => {
  it('see each other in room_state and receive each other typing and status events', async () => {
    const gw = await startGateway();
    const alice = await connectV4(urlOf(gw), token({ sub: 'alice', name: 'Alice' }));
    const bob = await connectV2(urlOf(gw), token({ sub: 'bob', name: 'Bob' }));

    const aliceJoin = await request(alice, 'join_room', { room_id: 'workspace_123' });
    expect(aliceJoin).toEqual({ ok: true, room_id: 'workspace_123' });

    const aliceSeesBoth = waitFor(alice, 'room_state', (s) => s.total_users === 2);
    const bobJoin = await request(bob, 'join_room', { room_id: 'workspace_123' });
    expect(bobJoin.ok).toBe(true);
    const state = await aliceSeesBoth;
    expect(state.room_id).toBe('workspace_123');
    expect(state.users.map((u: { user_id: string }) => u.user_id)).toEqual(['alice', 'bob']);
    expect(state.users[1]).toMatchObject({ username: 'Bob', email: 'bob@example.com', room: 'workspace_123', status: 'online', cursor: null });
    expect(Date.parse(state.users[1].last_seen)).not.toBeNaN();

    const typing = waitFor(bob, 'user_typing_start');
    alice.emit('typing_start', { room: 'workspace_123', cell_id: 'A1' });
    expect(await typing).toEqual({ user_id: 'alice', username: 'Alice', room_id: 'workspace_123', cell_id: 'A1' });

    const stopTyping = waitFor(alice, 'user_typing_stop');
    bob.emit('typing_stop', { room: 'workspace_123', cell_id: 'B2' });
    expect(await stopTyping).toMatchObject({ user_id: 'bob', cell_id: 'B2' });

    const status = waitFor(alice, 'user_status_changed');
    bob.emit('status_update', { status: 'busy' });
    expect(await status).toEqual({ user_id: 'bob', status: 'busy', room_id: 'workspace_123' });
    const afterStatus = await request(alice, 'join_room', { room_id: 'workspace_123' });
    expect(afterStatus.ok).toBe(true);
  });

  it('never echoes typing to the sender', async () => {
    const gw = await startGateway();
    const alice = await connectV4(urlOf(gw), token({ sub: 'alice' }));
    const bob = await connectV4(urlOf(gw), token({ sub: 'bob' }));
    await request(alice, 'join_room', { room_id: 'r' });
    await request(bob, 'join_room', { room_id: 'r' });
    const echoed = collect(alice, 'user_typing_start');
    const delivered = waitFor(bob, 'user_typing_start');
    alice.emit('typing_start', { room: 'r' });
    await delivered;
    // A round trip on alice's own connection after the broadcast: anything echoed would be here by now.
    await request(alice, 'status_update', { status: 'online' });
    expect(echoed).toEqual([]);
  });

  it('lists a user with many tabs once, and keeps them until the last tab leaves', async () => {
    const gw = await startGateway();
    const tab1 = await connectV4(urlOf(gw), token({ sub: 'carol' }));
    const tab2 = await connectV2(urlOf(gw), token({ sub: 'carol' }));
    const dave = await connectV4(urlOf(gw), token({ sub: 'dave' }));
    await request(tab1, 'join_room', { room_id: 'r' });
    await request(tab2, 'join_room', { room_id: 'r' });
    const both = waitFor(dave, 'room_state', (s) => s.total_users === 2);
    await request(dave, 'join_room', { room_id: 'r' });
    expect((await both).users.map((u: { user_id: string }) => u.user_id)).toEqual(['carol', 'dave']);

    const afterOneTab = waitFor(dave, 'room_state');
    tab1.close();
    expect((await afterOneTab).users.map((u: { user_id: string }) => u.user_id)).toEqual(['carol', 'dave']);

    const afterLastTab = waitFor(dave, 'room_state');
    await request(tab2, 'leave_room', { room_id: 'r' });
    expect((await afterLastTab).users.map((u: { user_id: string }) => u.user_id)).toEqual(['dave']);
  });

  it('keeps client room ids apart from internal rooms', async () => {
    const gw = await startGateway();
    const mallory = await connectV4(urlOf(gw), token({ sub: 'mallory' }));
    const alice = await connectV4(urlOf(gw), token({ sub: 'alice' }));
    await request(mallory, 'join_room', { room_id: 'user:alice' });
    await request(alice, 'join_room', { room_id: 'shared' });
    const leaked = collect(mallory, 'room_state');
    await request(alice, 'status_update', { status: 'away' });
    gw.io.to('user:alice').emit('room_state', { room_id: 'private', users: [], active_sheets: [], total_users: 0 });
    await waitFor(alice, 'room_state', (s) => s.room_id === 'private');
    await request(mallory, 'status_update', { status: 'online' });
    expect(leaked).toEqual([]);
  });

  it('serves the workspace messages on /workspace and refuses other namespaces\' types there', async () => {
    const gw = await startGateway();
    const ws = await connectV4(urlOf(gw), token({ sub: 'erin' }), { namespace: '/workspace' });
    expect(await request(ws, 'join_room', { room_id: 'r' })).toMatchObject({ ok: true });
    const ai = await connectV4(urlOf(gw), token({ sub: 'erin' }), { namespace: '/ai' });
    expect(await request(ai, 'join_room', { room_id: 'r' })).toEqual({
      ok: false,
      error: { code: 'UNKNOWN_MESSAGE_TYPE', message: 'Unsupported message type: join_room' },
    });
  });

  it('shares a room between the root and the /workspace namespace', async () => {
    const gw = await startGateway();
    const root = await connectV4(urlOf(gw), token({ sub: 'root-user' }));
    const nsp = await connectV2(urlOf(gw), token({ sub: 'nsp-user' }), { namespace: '/workspace' });
    await request(root, 'join_room', { room_id: 'mixed' });
    const seen = waitFor(root, 'room_state', (s) => s.total_users === 2);
    await request(nsp, 'join_room', { room_id: 'mixed' });
    await seen;
    const typing = waitFor(root, 'user_typing_start');
    nsp.emit('typing_start', { room: 'mixed' });
    expect(await typing).toMatchObject({ user_id: 'nsp-user' });
  });
});
