import { collect, connectV2, connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { token } from './support/tokens';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';

const redis = useRedis();
cleanUpAfterEach();

describe('versioned cells', () => {
  it('follows seed 002: the new version is the seen version + 1, confirmed to the sender and the room', async () => {
    const gw = await startGateway();
    const jane = await connectV4(urlOf(gw), token({ sub: 'user_2', name: 'jane_doe' }));
    const john = await connectV2(urlOf(gw), token({ sub: 'user_1', name: 'john_doe' }));
    await request(jane, 'join_room', { room_id: 'workspace_123' });
    await request(john, 'join_room', { room_id: 'workspace_123' });
    const toJohn = waitFor(john, 'cell_updated');
    const toJane = waitFor(jane, 'cell_updated');
    const ack = await request(jane, 'cell_update', {
      sheet_id: 'sheet_123',
      cell_id: 'A1',
      value: 'Hello World',
      formula: "=CONCATENATE('Hello', ' ', 'World')",
      version: 1642161000000,
    });
    expect(ack).toMatchObject({ ok: true, version: 1642161000001 });
    const expected = {
      sheet_id: 'sheet_123',
      cell_id: 'A1',
      value: 'Hello World',
      formula: "=CONCATENATE('Hello', ' ', 'World')",
      user_id: 'user_2',
      username: 'jane_doe',
      version: 1642161000001,
      updated_at: expect.stringMatching(/^\d{4}-/),
    };
    expect(await toJohn).toEqual(expected);
    expect(await toJane).toEqual(expected);

    const stale = await request(john, 'cell_update', { sheet_id: 'sheet_123', cell_id: 'A1', value: 'mine', version: 1642161000000 });
    expect(stale.error).toMatchObject({ code: 'VERSION_CONFLICT', sheet_id: 'sheet_123', cell_id: 'A1', current: { value: 'Hello World', version: 1642161000001 } });

    const state = waitFor(john, 'room_state');
    await request(john, 'join_room', { room_id: 'workspace_123' });
    expect((await state).active_sheets).toEqual(['sheet_123']);
  });

  it('answers sheet_state to a late joiner, as an ack or as an event', async () => {
    const gw = await startGateway();
    const a = await connectV4(urlOf(gw), token({ sub: 'a' }));
    await request(a, 'cell_update', { sheet_id: 's', cell_id: 'A1', value: 1 });
    await request(a, 'cell_update', { sheet_id: 's', cell_id: 'B2', value: true, formula: '=TRUE()' });
    const late = await connectV2(urlOf(gw), token({ sub: 'late' }));
    const viaAck = await request(late, 'sheet_state', { sheet_id: 's' });
    expect(viaAck).toMatchObject({ ok: true, sheet_id: 's', cells: { A1: { value: 1, version: 1, formula: null }, B2: { value: true, version: 1, formula: '=TRUE()' } } });
    const viaEvent = waitFor(late, 'sheet_state');
    late.emit('sheet_state', { sheet_id: 's' });
    expect((await viaEvent).cells).toEqual(viaAck.cells);
  });

  it('refuses a cell over CELL_MAX_BYTES', async () => {
    const gw = await startGateway({ CELL_MAX_BYTES: '100' });
    const a = await connectV4(urlOf(gw), token({ sub: 'a' }));
    const big = await request(a, 'cell_update', { sheet_id: 's', cell_id: 'A1', value: 'x'.repeat(101) });
    expect(big.error).toMatchObject({ code: 'MESSAGE_TOO_LARGE', limit: 100 });
  });

  it('lets exactly one of two simultaneous updates win on two pods, round after round', async () => {
    const podA = await startGateway({ REDIS_URL: redis.url });
    const podB = await startGateway({ REDIS_URL: redis.url });
    const alice = await connectV4(urlOf(podA), token({ sub: 'alice' }));
    const bob = await connectV4(urlOf(podB), token({ sub: 'bob' }));
    await request(alice, 'join_room', { room_id: 'race' });
    await request(bob, 'join_room', { room_id: 'race' });
    const seenByAlice = collect(alice, 'cell_updated');
    const seenByBob = collect(bob, 'cell_updated');

    let version = 0;
    const versions: number[] = [];
    const ROUNDS = 60;
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = await Promise.all([
        request(alice, 'cell_update', { sheet_id: 'race-sheet', cell_id: 'A1', value: `alice-${round}`, version }),
        request(bob, 'cell_update', { sheet_id: 'race-sheet', cell_id: 'A1', value: `bob-${round}`, version }),
      ]);
      const winners = [a, b].filter((r) => r.ok);
      expect(winners).toHaveLength(1);
      const loser = a.ok ? b : a;
      expect(loser.error.code).toBe('VERSION_CONFLICT');
      expect(loser.error.current).toEqual(winners[0].cell);
      expect(winners[0].version).toBeGreaterThan(version);
      version = winners[0].version;
      versions.push(version);
    }
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    expect(new Set(versions).size).toBe(ROUNDS);

    // Every broadcast arrived on both sides, in version order, and both read the same final sheet.
    const lastOnBoth = Promise.all([
      waitFor(alice, 'cell_updated', (u) => u.version === version).catch(() => undefined),
      waitFor(bob, 'cell_updated', (u) => u.version === version).catch(() => undefined),
    ]);
    if (seenByAlice.length < ROUNDS || seenByBob.length < ROUNDS) await lastOnBoth;
    for (const seen of [seenByAlice, seenByBob]) expect(seen.map((u) => u.version)).toEqual(versions);
    const [stateA, stateB] = await Promise.all([request(alice, 'sheet_state', { sheet_id: 'race-sheet' }), request(bob, 'sheet_state', { sheet_id: 'race-sheet' })]);
    expect(stateA.cells).toEqual(stateB.cells);
    expect(stateA.cells.A1.version).toBe(version);
  });
});
