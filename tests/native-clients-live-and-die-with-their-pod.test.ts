import { connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';
import { closeNatives, connectCalculations, connectStreaming, connectWorkspace, openNative, wsUrl } from './support/native';
import { PodProcess } from './support/pods';
import { adminToken, token } from './support/tokens';

const redis = useRedis();
cleanUpAfterEach();
afterEach(() => closeNatives());

/** PRESENCE_TTL_MS + PRESENCE_HEARTBEAT_MS of the test environment, plus slack. */
const GHOST_BOUND_MS = 2000 + 500 + 1500;
const ids = (s: { users: Array<{ user_id: string }> }) => s.users.map((u) => u.user_id);

describe('native clients across pods', () => {
  it('are counted by the cluster stats and leave presence when their pod is SIGKILLed', async () => {
    const podA = await PodProcess.start({ REDIS_URL: redis.url });
    const podB = await startGateway({ REDIS_URL: redis.url });
    const observer = await connectV4(urlOf(podB), token({ sub: 'observer' }));
    await request(observer, 'join_room', { room_id: 'shared' });
    const native = await openNative(wsUrl(podA.port, '/api/v1/ws', { token: token({ sub: 'native' }) }));
    const both = waitFor(observer, 'room_state', (s) => s.total_users === 2);
    native.send({ type: 'join_room', room_id: 'shared' });
    expect(ids(await both)).toEqual(['native', 'observer']);

    const stats = await fetch(urlOf(podB, '/api/v1/ws/stats'), { headers: { Authorization: `Bearer ${adminToken()}` } }).then((r) => r.json());
    expect(stats).toMatchObject({ total_connections: 2, authenticated_connections: 2, pods: 2 });

    const killedAt = Date.now();
    const alone = waitFor(observer, 'room_state', (s) => s.total_users === 1, GHOST_BOUND_MS + 2000);
    expect(await podA.signal('SIGKILL')).toBeNull();
    expect(ids(await alone)).toEqual(['observer']);
    expect(Date.now() - killedAt).toBeLessThan(GHOST_BOUND_MS);
    expect((await native.closed).code).toBe(1006);
  });

  it('are closed with 1001 when their pod stops on SIGTERM, and their presence goes at once', async () => {
    const podA = await PodProcess.start({ REDIS_URL: redis.url });
    const podB = await startGateway({ REDIS_URL: redis.url });
    const observer = await connectV4(urlOf(podB), token({ sub: 'observer' }));
    await request(observer, 'join_room', { room_id: 'graceful' });
    const workspace = await connectWorkspace(podA.port, token({ sub: 'w' }));
    const streaming = await connectStreaming(podA.port, token({ sub: 's' }));
    const all = waitFor(observer, 'room_state', (s) => s.total_users === 2);
    workspace.send({ type: 'join_room', room_id: 'graceful' });
    await all;
    const alone = waitFor(observer, 'room_state', (s) => s.total_users === 1);
    expect(await podA.signal('SIGTERM')).toBe(0);
    expect(await workspace.closed).toEqual({ code: 1001, reason: 'Server shutting down' });
    expect(await streaming.closed).toEqual({ code: 1001, reason: 'Server shutting down' });
    expect(ids(await alone)).toEqual(['observer']);
  });

  it('keep seed 000\'s one connection per user across pods', async () => {
    const podA = await startGateway({ REDIS_URL: redis.url });
    const podB = await startGateway({ REDIS_URL: redis.url });
    const first = await connectCalculations(podA, token({ sub: 'astro' }));
    const second = await connectCalculations(podB, token({ sub: 'astro' }));
    expect(await first.closed).toEqual({ code: 1008, reason: 'Replaced by a newer connection of the same user' });
    second.send({ type: 'ping' });
    expect(await second.next('pong')).toMatchObject({ type: 'pong' });
  });
});
