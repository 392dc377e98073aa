import { collect, connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { token } from './support/tokens';
import { cleanUpAfterEach } from './support/lifecycle';

cleanUpAfterEach();

describe('cursor moves', () => {
  it('relay to the others, not the sender, and show in room_state', async () => {
    const gw = await startGateway();
    const jane = await connectV4(urlOf(gw), token({ sub: 'user_2', name: 'jane_doe' }));
    const john = await connectV4(urlOf(gw), token({ sub: 'user_1', name: 'john_doe' }));
    await request(jane, 'join_room', { room_id: 'workspace_123' });
    await request(john, 'join_room', { room_id: 'workspace_123' });
    const echoed = collect(jane, 'cursor_moved');
    const moved = waitFor(john, 'cursor_moved');
    jane.emit('cursor_move', { room: 'workspace_123', x: 150, y: 300, cell: 'B2' });
    expect(await moved).toEqual({ user_id: 'user_2', username: 'jane_doe', room_id: 'workspace_123', cursor: { x: 150, y: 300, cell: 'B2' } });
    const state = waitFor(john, 'room_state');
    await request(john, 'leave_room', { room_id: 'workspace_123' }).then(() => request(john, 'join_room', { room_id: 'workspace_123' }));
    const jane2 = (await state).users.find((u: { user_id: string }) => u.user_id === 'user_2');
    expect(jane2.cursor).toEqual({ x: 150, y: 300, cell: 'B2' });
    expect(echoed).toEqual([]);
    expect((await request(jane, 'cursor_move', { room: 'elsewhere', x: 1, y: 1 })).error.code).toBe('NOT_IN_ROOM');
  });

  it('a burst of 1,000 moves reaches the others at most at the throttle rate, and the last one always arrives', async () => {
    const RATE = 20;
    const gw = await startGateway({ CURSOR_RATE: String(RATE) });
    const sender = await connectV4(urlOf(gw), token({ sub: 'mover' }));
    const watcher = await connectV4(urlOf(gw), token({ sub: 'watcher' }));
    await request(sender, 'join_room', { room_id: 'r' });
    await request(watcher, 'join_room', { room_id: 'r' });
    const received = collect(watcher, 'cursor_moved');

    const heapBefore = process.memoryUsage().heapUsed;
    for (let round = 0; round < 3; round++) {
      const startedAt = Date.now();
      const last = { x: 999, y: round, cell: `Z${round}` };
      const final = waitFor(watcher, 'cursor_moved', (m) => m.cursor.x === 999 && m.cursor.y === round, 5000);
      for (let i = 0; i < 999; i++) sender.emit('cursor_move', { room: 'r', x: i, y: round });
      sender.emit('cursor_move', { room: 'r', ...last });
      await final;
      const elapsedS = (Date.now() - startedAt) / 1000;
      const thisRound = received.filter((m) => m.cursor.y === round);
      // Leading edge plus one per interval elapsed, plus one for the trailing edge.
      expect(thisRound.length).toBeLessThanOrEqual(Math.ceil(elapsedS * RATE) + 2);
      expect(thisRound[thisRound.length - 1].cursor).toEqual(last);
      // Let the throttle window close so the next round starts fresh.
      await new Promise((r) => setTimeout(r, 1000 / RATE + 20));
    }
    // No state left behind per burst: the throttle holds keys only while active.
    global.gc?.();
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(20 * 1024 * 1024);
  });
});
