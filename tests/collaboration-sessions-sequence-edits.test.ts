import { collect, connectV2, connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { token } from './support/tokens';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';

const redis = useRedis();
cleanUpAfterEach();

describe('collaboration sessions', () => {
  it('accept an edit made against the current version, broadcast it with its author, refuse a stale one', async () => {
    const gw = await startGateway();
    const ann = await connectV4(urlOf(gw), token({ sub: 'ann', name: 'Ann' }), { namespace: '/workspace' });
    const ben = await connectV2(urlOf(gw), token({ sub: 'ben', name: 'Ben' }));
    expect(await request(ann, 'join_session', { sessionId: 'session_123', role: 'participant' })).toEqual({ ok: true, sessionId: 'session_123', role: 'participant', version: 0 });
    const joined = waitFor(ben, 'session_state');
    ben.emit('join_session', { sessionId: 'session_123' });
    expect(await joined).toEqual({ sessionId: 'session_123', role: 'participant', version: 0 });

    const toBen = waitFor(ben, 'edit');
    const ack = await request(ann, 'edit', { operation: 'insert', position: 42, content: 'Hello World', version: 0 });
    expect(ack).toEqual({ ok: true, sessionId: 'session_123', version: 1 });
    expect(await toBen).toEqual({
      sessionId: 'session_123',
      operation: 'insert',
      position: 42,
      content: 'Hello World',
      version: 1,
      author: { userId: 'ann', username: 'Ann' },
      timestamp: expect.stringMatching(/^\d{4}-/),
    });

    const stale = await request(ben, 'edit', { sessionId: 'session_123', operation: 'delete', position: 0, content: '', version: 0 });
    expect(stale.error).toMatchObject({ code: 'VERSION_CONFLICT', sessionId: 'session_123', currentVersion: 1 });
    expect((await request(ben, 'edit', { sessionId: 'session_123', operation: 'delete', position: 0, version: 1 })).version).toBe(2);

    await request(ann, 'leave_session', { sessionId: 'session_123' });
    const annEdits = collect(ann, 'edit');
    const benSees = waitFor(ben, 'edit', (e) => e.version === 3);
    await request(ben, 'edit', { sessionId: 'session_123', operation: 'insert', position: 1, content: 'x', version: 2 });
    await benSees;
    expect(annEdits).toEqual([]);
    expect((await request(ann, 'edit', { operation: 'insert', position: 0, version: 3 })).error.code).toBe('NOT_IN_ROOM');
  });

  it('refuses edits from observers', async () => {
    const gw = await startGateway();
    const viewer = await connectV4(urlOf(gw), token({ sub: 'viewer' }));
    await request(viewer, 'join_session', { sessionId: 's', role: 'observer' });
    expect((await request(viewer, 'edit', { operation: 'insert', position: 0, version: 0 })).error.code).toBe('PERMISSION_DENIED');
  });

  it('sequence edits from two pods as one: versions never repeat', async () => {
    const podA = await startGateway({ REDIS_URL: redis.url });
    const podB = await startGateway({ REDIS_URL: redis.url });
    const a = await connectV4(urlOf(podA), token({ sub: 'a' }));
    const b = await connectV4(urlOf(podB), token({ sub: 'b' }));
    await request(a, 'join_session', { sessionId: 'shared-doc' });
    await request(b, 'join_session', { sessionId: 'shared-doc' });
    let version = 0;
    for (let round = 0; round < 30; round++) {
      const results = await Promise.all([a, b].map((s) => request(s, 'edit', { operation: 'insert', position: round, content: 'x', version })));
      const accepted = results.filter((r) => r.ok);
      expect(accepted).toHaveLength(1);
      expect(accepted[0].version).toBe(version + 1);
      expect(results.find((r) => !r.ok).error).toMatchObject({ code: 'VERSION_CONFLICT', currentVersion: version + 1 });
      version += 1;
    }
  });
});
