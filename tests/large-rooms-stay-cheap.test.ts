import { collect, connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import { token } from './support/tokens';

cleanUpAfterEach();

describe('rooms above PRESENCE_BROADCAST_MAX_USERS', () => {
  it('stop announcing joins and leaves; a joiner gets a truncated room_state with the exact total', async () => {
    const gw = await startGateway({ PRESENCE_BROADCAST_MAX_USERS: '3' });
    const first = await connectV4(urlOf(gw), token({ sub: 'u1' }));
    await request(first, 'join_room', { room_id: 'big' });
    const joined = collect(first, 'user_joined');
    const states = collect(first, 'room_state');
    for (const sub of ['u2', 'u3']) {
      const s = await connectV4(urlOf(gw), token({ sub }));
      await request(s, 'join_room', { room_id: 'big' });
    }
    await waitFor(first, 'room_state', (s) => s.total_users === 3);
    expect(joined.map((j) => j.userId)).toEqual(['u2', 'u3']);

    const fourth = await connectV4(urlOf(gw), token({ sub: 'u4' }));
    const own = waitFor(fourth, 'room_state');
    await request(fourth, 'join_room', { room_id: 'big' });
    const state = await own;
    expect(state).toMatchObject({ room_id: 'big', total_users: 4, truncated: true });
    expect(state.users).toHaveLength(3);

    // A message through the room after the join proves nothing about u4 was broadcast before it.
    const seenAfter = waitFor(first, 'user_typing_start');
    fourth.emit('typing_start', { room: 'big' });
    await seenAfter;
    expect(joined.map((j) => j.userId)).toEqual(['u2', 'u3']);
    expect(states.every((s) => s.total_users <= 3)).toBe(true);
    expect(await gw.stores.presence.count('big')).toBe(4);
  });

  it('keep a join storm linear: 150 joins into one room cost no per-member announcements', async () => {
    const gw = await startGateway({ PRESENCE_BROADCAST_MAX_USERS: '20' });
    const watcher = await connectV4(urlOf(gw), token({ sub: 'watcher' }));
    await request(watcher, 'join_room', { room_id: 'storm' });
    const joined = collect(watcher, 'user_joined');
    const states = collect(watcher, 'room_state');
    const sockets = await Promise.all(Array.from({ length: 150 }, (_, i) => connectV4(urlOf(gw), token({ sub: `s${i}` }))));
    await Promise.all(sockets.map((s) => request(s, 'join_room', { room_id: 'storm' })));
    const marker = waitFor(watcher, 'user_typing_start');
    sockets[0].emit('typing_start', { room: 'storm' });
    await marker;
    expect(joined.length).toBeLessThanOrEqual(20);
    expect(states.every((s) => s.users.length <= 20)).toBe(true);
    expect(await gw.stores.presence.count('storm')).toBe(151);
  });
});
