import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { collect, connectV2, connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';
import { closeNatives, connectAgents, connectLearning, connectWorkspace, Endpoints } from './support/native';
import { token } from './support/tokens';

const redis = useRedis();
cleanUpAfterEach();
afterEach(() => closeNatives());

interface Emit {
  namespace?: string;
  rooms?: string[];
  event: string;
  payload: unknown;
}

/** Runs tests/support/emitter.js: a separate process publishing with @socket.io/redis-emitter. */
function emitFromBackend(emits: Emit[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(__dirname, 'support', 'emitter.js'), redis.url, JSON.stringify(emits)], { timeout: 15_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`emitter failed: ${stderr || err.message}`)) : resolve(stdout.trim()),
    );
  });
}

describe('a backend publishing with @socket.io/redis-emitter', () => {
  it('reaches a client room, a user and a namespace: Socket.IO v4, v2 and native clients on both pods', async () => {
    const [a, b] = await Promise.all([0, 1].map(() => startGateway({ REDIS_URL: redis.url })));

    // Room `board`: a v4 client on /workspace (pod A), a v2 client on / (pod B), native seed 002 (A) and seed 004 (B).
    const v4 = await connectV4(urlOf(a), token({ sub: 'alice' }), { namespace: '/workspace' });
    const v2 = await connectV2(urlOf(b), token({ sub: 'bob' }));
    for (const s of [v4, v2]) expect(await request(s, 'join_room', { room_id: 'board' })).toMatchObject({ ok: true });
    const flat = await connectWorkspace(a, token({ sub: 'carol' }));
    flat.send({ type: 'join_room', room_id: 'board' });
    await flat.next('room_state');
    const chat = await connectLearning(b, Endpoints.chat, token({ sub: 'dave' }), 'board');
    await chat.next('room_state');
    // User `erin`: a v4 tab on pod B and a native seed 001 connection on pod A; neither in the room.
    const erinTab = await connectV4(urlOf(b), token({ sub: 'erin' }));
    const erinAgent = await connectAgents(a, token({ sub: 'erin' }));
    // Namespace /notifications: one client on pod A.
    const notified = await connectV4(urlOf(a), token({ sub: 'frank' }), { namespace: '/notifications' });
    const outsiders = [collect(erinTab, 'board_update'), collect(notified, 'board_update'), collect(v4, 'direct_message'), collect(v2, 'maintenance')];

    const board = { sheet_id: 'sheet_1', summary: 'totals recomputed' };
    const arrivals = {
      v4: waitFor(v4, 'board_update'),
      v2: waitFor(v2, 'board_update'),
      erin: waitFor(erinTab, 'direct_message'),
      maintenance: waitFor(notified, 'maintenance'),
    };
    // A client room is `room:<id>` in each namespace its members use (native clients and legacy
    // clients are in `/`); a user is `user:<sub>`, joined in every namespace.
    const published = await emitFromBackend([
      { namespace: '/', rooms: ['room:board'], event: 'board_update', payload: board },
      { namespace: '/workspace', rooms: ['room:board'], event: 'board_update', payload: board },
      { namespace: '/', rooms: ['user:erin'], event: 'direct_message', payload: { from: 'billing', message: 'Invoice ready' } },
      { namespace: '/notifications', event: 'maintenance', payload: { at: '22:00' } },
    ]);
    expect(published).toBe('published 4');

    expect(await arrivals.v4).toEqual(board);
    expect(await arrivals.v2).toEqual(board);
    expect(await flat.next('board_update')).toEqual({ type: 'board_update', ...board });
    expect(await chat.next('board_update')).toEqual({ type: 'board_update', id: expect.any(String), timestamp: expect.any(String), data: board });
    expect(await arrivals.erin).toEqual({ from: 'billing', message: 'Invoice ready' });
    expect(await erinAgent.next('direct_message')).toEqual({ type: 'direct_message', payload: { from: 'billing', message: 'Invoice ready' }, timestamp: expect.any(Number) });
    expect(await arrivals.maintenance).toEqual({ at: '22:00' });

    // Each event reached only its audience: a last one to everybody in `/` on both pods arrives
    // after the others (one Redis connection, in order), and nobody got an event meant for others.
    const last = [waitFor(erinTab, 'done'), waitFor(v2, 'done')];
    await emitFromBackend([{ namespace: '/', event: 'done', payload: {} }]);
    await Promise.all(last);
    expect(await flat.next('done')).toEqual({ type: 'done' });
    expect(outsiders).toEqual([[], [], [], []]);
    expect(flat.take('direct_message')).toEqual([]);
    expect(erinAgent.take('board_update')).toEqual([]);
  });
});
