import { connectV2, connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';
import { closeNatives, connectAgents, connectLearning, connectWorkspace, Endpoints } from './support/native';
import { adminToken, token } from './support/tokens';

const redis = useRedis();
cleanUpAfterEach();
afterEach(() => closeNatives());

const userIds = (state: { users: Array<{ user_id: string }> }) => state.users.map((u) => u.user_id);

describe('native and Socket.IO clients in the same room, one pod', () => {
  it('see each other in room_state and get each other typing and status, each in its own wire format', async () => {
    const gw = await startGateway();
    const sio = await connectV4(urlOf(gw), token({ sub: 'sio', name: 'Sio' }));
    const legacy = await connectV2(urlOf(gw), token({ sub: 'legacy', name: 'Legacy' }));
    const flat = await connectWorkspace(gw, token({ sub: 'flat', name: 'Flat' }));
    const agent = await connectAgents(gw, token({ sub: 'agent', name: 'Agent' }));

    await request(sio, 'join_room', { room_id: 'workspace_123' });
    await request(legacy, 'join_room', { room_id: 'workspace_123' });
    flat.send({ type: 'join_room', room_id: 'workspace_123' });
    agent.send({ type: 'join_room', payload: { room_id: 'workspace_123' }, correlation_id: 'j' });
    await agent.next('ack');
    const full = (s: { total_users: number }) => s.total_users === 4;
    const sioState = await waitFor<any>(sio, 'room_state', full);
    expect(userIds(sioState)).toEqual(['agent', 'flat', 'legacy', 'sio']);
    expect(userIds(await flat.next((f) => f.type === 'room_state' && full(f)))).toEqual(['agent', 'flat', 'legacy', 'sio']);
    expect(userIds((await agent.next((f) => f.type === 'room_state' && full(f.payload))).payload)).toEqual(['agent', 'flat', 'legacy', 'sio']);

    const sioTyping = waitFor(sio, 'user_typing_start');
    const legacyTyping = waitFor(legacy, 'user_typing_start');
    flat.send({ type: 'typing_start', cell_id: 'A1', room: 'workspace_123' });
    const typing = { user_id: 'flat', username: 'Flat', room_id: 'workspace_123', cell_id: 'A1' };
    expect(await sioTyping).toEqual(typing);
    expect(await legacyTyping).toEqual(typing);
    expect(await agent.next('user_typing_start')).toEqual({ type: 'user_typing_start', payload: typing, timestamp: expect.any(Number) });

    sio.emit('typing_stop', { room: 'workspace_123', cell_id: 'B2' });
    expect(await flat.next('user_typing_stop')).toEqual({ type: 'user_typing_stop', user_id: 'sio', username: 'Sio', room_id: 'workspace_123', cell_id: 'B2' });

    const sioStatus = waitFor(sio, 'user_status_changed');
    agent.send({ type: 'status_update', payload: { status: 'busy' } });
    expect(await sioStatus).toEqual({ user_id: 'agent', status: 'busy', room_id: 'workspace_123' });
    expect(await flat.next('user_status_changed')).toEqual({ type: 'user_status_changed', user_id: 'agent', status: 'busy', room_id: 'workspace_123' });

    // Presence treats a native disconnect like any other: the room loses the user.
    const afterLeave = waitFor(sio, 'room_state', (s) => s.total_users === 3);
    flat.close();
    expect(userIds(await afterLeave)).toEqual(['agent', 'legacy', 'sio']);
  });

  it('counts native clients in the stats like Socket.IO clients', async () => {
    const gw = await startGateway();
    await connectV4(urlOf(gw), token({ sub: 'a' }));
    const flat = await connectWorkspace(gw, token({ sub: 'b' }));
    await connectLearning(gw, Endpoints.chat, token({ sub: 'c' }), 'ctx');
    flat.send({ type: 'join_room', room_id: 'ctx' });
    await flat.next((f) => f.type === 'room_state' && f.total_users === 2);
    const stats = await fetch(urlOf(gw, '/api/v1/ws/stats'), { headers: { Authorization: `Bearer ${adminToken()}` } }).then((r) => r.json());
    expect(stats).toMatchObject({ total_connections: 3, authenticated_connections: 3, rooms_active: 1 });
    const health = (await fetch(urlOf(gw, '/api/v1/ws/health')).then((r) => r.json())) as { connections: number };
    expect(health.connections).toBe(3);
  });
});

describe('a native client on pod A and a Socket.IO client on pod B, through Redis', () => {
  it('see each other in room_state and exchange typing, status, cells and cursors', async () => {
    const podA = await startGateway({ REDIS_URL: redis.url });
    const podB = await startGateway({ REDIS_URL: redis.url });
    const nat = await connectWorkspace(podA, token({ sub: 'native', name: 'Native' }));
    const sio = await connectV4(urlOf(podB), token({ sub: 'socketio', name: 'SocketIO' }));

    nat.send({ type: 'join_room', room_id: 'shared' });
    await nat.next('room_state');
    const sioSeesBoth = waitFor(sio, 'room_state', (s) => s.total_users === 2);
    await request(sio, 'join_room', { room_id: 'shared' });
    expect(userIds(await nat.next((f) => f.type === 'room_state' && f.total_users === 2))).toEqual(['native', 'socketio']);
    expect(userIds(await sioSeesBoth)).toEqual(['native', 'socketio']);

    const sioTyping = waitFor(sio, 'user_typing_start');
    nat.send({ type: 'typing_start', room: 'shared', cell_id: 'A1' });
    expect(await sioTyping).toMatchObject({ user_id: 'native', cell_id: 'A1' });
    sio.emit('typing_start', { room: 'shared', cell_id: 'C3' });
    expect(await nat.next('user_typing_start')).toMatchObject({ user_id: 'socketio', cell_id: 'C3' });

    const sioStatus = waitFor(sio, 'user_status_changed');
    nat.send({ type: 'status_update', status: 'away' });
    expect(await sioStatus).toEqual({ user_id: 'native', status: 'away', room_id: 'shared' });
    sio.emit('status_update', { status: 'busy' });
    expect(await nat.next((f) => f.type === 'user_status_changed' && f.user_id === 'socketio')).toMatchObject({ status: 'busy' });

    const sioCell = waitFor(sio, 'cell_updated');
    nat.send({ type: 'cell_update', sheet_id: 'sheet_123', cell_id: 'A1', value: 'Hello World', formula: null, version: 0 });
    const first = await sioCell;
    expect(first).toMatchObject({ sheet_id: 'sheet_123', cell_id: 'A1', value: 'Hello World', user_id: 'native', username: 'Native' });
    expect(await nat.next('cell_updated')).toEqual({ type: 'cell_updated', ...first });
    const second = await request(sio, 'cell_update', { sheet_id: 'sheet_123', cell_id: 'A1', value: 42, version: first.version });
    expect(second.ok).toBe(true);
    const natCell = await nat.next((f) => f.type === 'cell_updated' && f.value === 42);
    expect(natCell.version).toBeGreaterThan(first.version);
    nat.send({ type: 'cell_update', sheet_id: 'sheet_123', cell_id: 'A1', value: 'stale', version: first.version });
    expect(await nat.next('error')).toMatchObject({ code: 'VERSION_CONFLICT', current: { value: 42, version: natCell.version } });

    const sioCursor = waitFor(sio, 'cursor_moved');
    nat.send({ type: 'cursor_move', room: 'shared', x: 150, y: 300, cell: 'B2' });
    expect(await sioCursor).toEqual({ user_id: 'native', username: 'Native', room_id: 'shared', cursor: { x: 150, y: 300, cell: 'B2' } });
    sio.emit('cursor_move', { room: 'shared', x: 1, y: 2 });
    expect(await nat.next('cursor_moved')).toEqual({ type: 'cursor_moved', user_id: 'socketio', username: 'SocketIO', room_id: 'shared', cursor: { x: 1, y: 2 } });

    const gone = waitFor(sio, 'room_state', (s) => s.total_users === 1);
    nat.close();
    expect(userIds(await gone)).toEqual(['socketio']);
  });

  it('carries seed 004 chat between a native chat client and a Socket.IO /chat client', async () => {
    const podA = await startGateway({ REDIS_URL: redis.url });
    const podB = await startGateway({ REDIS_URL: redis.url });
    const learner = await connectLearning(podA, Endpoints.chat, token({ sub: 'learner', name: 'Learner' }), 'context_9');
    await learner.next('room_state');
    const tutor = await connectV4(urlOf(podB), token({ sub: 'tutor', name: 'Tutor' }), { namespace: '/chat' });
    await request(tutor, 'join_room', { room_id: 'context_9' });
    expect(await learner.next((f) => f.type === 'user_joined' && f.data.userId === 'tutor')).toMatchObject({ data: { username: 'Tutor' } });

    const toTutor = waitFor(tutor, 'message');
    learner.send({ type: 'message', data: { content: 'Hi from a native client', messageType: 'text' } });
    expect(await toTutor).toMatchObject({ content: 'Hi from a native client', author: { userId: 'learner' }, room_id: 'context_9' });
    await request(tutor, 'message', { content: 'Hi back' });
    expect(await learner.next((f) => f.type === 'message' && f.data.content === 'Hi back')).toMatchObject({ data: { author: { userId: 'tutor' } } });
    const tutorTyping = waitFor(tutor, 'typing');
    learner.send({ type: 'typing', data: { isTyping: true } });
    expect(await tutorTyping).toEqual({ userId: 'learner', username: 'Learner', isTyping: true, room_id: 'context_9' });
  });
});
