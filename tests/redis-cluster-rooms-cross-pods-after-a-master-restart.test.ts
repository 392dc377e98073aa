// Two pods on a 3-master Redis Cluster (REDIS_CLUSTER_NODES): the sharded adapter carries every
// room's broadcasts on a channel of its own, spread over the masters. One master is SIGKILLed and
// started again (same port, same nodes.conf, empty): every room must still cross pods afterwards,
// and presence, cells, stream items and cluster-wide stats must work again. (With node-redis 4.7
// as the adapter's subscriber, the rooms of the restarted master stop crossing for good: it
// resubscribes them in one SSUBSCRIBE, which Redis refuses with CROSSSLOT.)
import { Cluster } from 'ioredis';
import type { Socket } from 'socket.io-client';
import { connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import { useRedisCluster } from './support/redis-cluster';
import { adminToken, token } from './support/tokens';
import { until } from './support/until';

const redis = useRedisCluster();
cleanUpAfterEach();

const ROOMS = Array.from({ length: 24 }, (_, i) => `board-${i}`);
/** The sharded adapter's channel of a client room in /workspace. */
const channelOf = (roomId: string) => `socket.io#/workspace#room:${roomId}#`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function slotOf(key: string): Promise<number> {
  return Number(await redis.client.sendCommand(undefined, true, ['CLUSTER', 'KEYSLOT', key]));
}

/**
 * The rooms in which `to` never heard `from`'s typing within `ms` (typing goes to the others in the
 * room, through the adapter); a room not heard yet is tried again every 200 ms.
 */
async function unheard(from: Socket, to: Socket, rooms: readonly string[], ms: number): Promise<string[]> {
  const heard = new Set<string>();
  const listener = (event: { room_id: string }) => heard.add(event.room_id);
  to.on('user_typing_start', listener);
  const deadline = Date.now() + ms;
  try {
    while (heard.size < rooms.length && Date.now() < deadline) {
      for (const room of rooms) if (!heard.has(room)) from.emit('typing_start', { room });
      await sleep(200);
    }
  } finally {
    to.off('user_typing_start', listener);
  }
  return rooms.filter((room) => !heard.has(room));
}

/** `until`, a check that fails (a request to a pod mid-failover) counting as not yet. */
const untilSettled = (check: () => Promise<boolean>, timeoutMs: number, what: string) => until(() => check().catch(() => false), timeoutMs, what);

describe('two pods on a Redis Cluster', () => {
  it('keeps every room crossing pods after a master restarts, and presence, cells, streams and stats with it', async () => {
    const env = { REDIS_CLUSTER_NODES: redis.cluster.seeds, STATS_TIMEOUT_MS: '2000' };
    const a = await startGateway(env);
    const b = await startGateway(env);
    const alice = await connectV4(urlOf(a), token({ sub: 'alice' }), { namespace: '/workspace' });
    const bob = await connectV4(urlOf(b), token({ sub: 'bob' }), { namespace: '/workspace' });
    for (const room of ROOMS) {
      expect(await request(alice, 'join_room', { room_id: room })).toEqual({ ok: true, room_id: room });
      expect(await request(bob, 'join_room', { room_id: room })).toEqual({ ok: true, room_id: room });
    }

    // The rooms' channels are spread over the three masters; the one restarted below also serves
    // the streams channel, and a room whose channel it serves is joined while it is down.
    const victim = await redis.cluster.nodeOfSlot(await slotOf('rg:streams'));
    const owners = await Promise.all(ROOMS.map(async (room) => redis.cluster.nodeOfSlot(await slotOf(channelOf(room)))));
    expect(new Set(owners).size).toBe(3);
    expect(owners.filter((o) => o === victim).length).toBeGreaterThanOrEqual(4);
    let lateRoom = '';
    for (let i = 0; !lateRoom; i++) if ((await redis.cluster.nodeOfSlot(await slotOf(channelOf(`late-${i}`)))) === victim) lateRoom = `late-${i}`;
    // A room whose presence keys ({room}) the restarted master holds.
    let downRoom = '';
    for (let i = 0; !downRoom; i++) if ((await redis.cluster.nodeOfSlot(await slotOf(`down-${i}`))) === victim) downRoom = `down-${i}`;

    expect(await unheard(alice, bob, ROOMS, 5000)).toEqual([]);
    expect(await unheard(bob, alice, ROOMS, 5000)).toEqual([]);

    // The master goes away for a second (SIGKILL), then comes back on its port, empty.
    const restartedAt = Date.now();
    await redis.cluster.killNode(victim);
    // Pod B's room whose channel lives on the missing master: its subscription cannot be made now.
    b.io.of('/workspace').in(bob.id!).socketsJoin(`room:${lateRoom}`);
    // Meanwhile both pods report not ready, and state on that master answers UPSTREAM_UNAVAILABLE.
    await untilSettled(async () => (await Promise.all([a, b].map((gw) => fetch(urlOf(gw, '/readyz')).then((r) => r.status)))).every((s) => s === 503), 5000, 'readyz 503');
    expect(await request(alice, 'join_room', { room_id: downRoom })).toMatchObject({ ok: false, error: { code: 'UPSTREAM_UNAVAILABLE' } });
    await sleep(500);
    await redis.cluster.startNode(victim);
    await redis.cluster.waitOk();
    const restartMs = Date.now() - restartedAt;

    // Both pods are ready again (while a master is away they answer 503).
    await untilSettled(async () => (await Promise.all([a, b].map((gw) => fetch(urlOf(gw, '/readyz')).then((r) => r.status)))).every((s) => s === 200), 10_000, 'readyz 200');

    // Every room crosses again, both ways.
    const crossingAgainAt = Date.now();
    expect(await unheard(alice, bob, ROOMS, 10_000)).toEqual([]);
    expect(await unheard(bob, alice, ROOMS, 10_000)).toEqual([]);
    const crossingAgainMs = Date.now() - crossingAgainAt;

    // The room subscribed while its master was down hears pod A too.
    let heardLate = false;
    bob.once('late_news', () => (heardLate = true));
    await untilSettled(async () => {
      (a.io.of('/workspace').to(`room:${lateRoom}`) as { emit(event: string, payload: unknown): boolean }).emit('late_news', { room: lateRoom });
      await sleep(200);
      return heardLate;
    }, 10_000, 'the room joined while its master was down crosses pods');

    // The restarted master lost its share of presence: the pods wrote their entries again.
    await untilSettled(
      async () => (await Promise.all(ROOMS.map((room) => a.stores.presence.list(room)))).every((users) => users.map((u) => u.user_id).join() === 'alice,bob'),
      10_000,
      'presence written again in every room',
    );
    const state = waitFor(alice, 'room_state', (s) => s.room_id === ROOMS[0]);
    await request(bob, 'status_update', { status: 'busy' });
    await request(alice, 'join_room', { room_id: ROOMS[0] });
    expect((await state).users.map((u: { user_id: string; status: string }) => `${u.user_id}:${u.status}`)).toEqual(['alice:online', 'bob:busy']);

    // Cells: compare-and-set across pods, on every master.
    for (const sheet of ['sheet-a', 'sheet-b', 'sheet-c', 'sheet-d']) {
      const updated = waitFor(bob, 'cell_updated', (c) => c.sheet_id === sheet);
      const ack = await request(alice, 'cell_update', { sheet_id: sheet, cell_id: 'A1', value: 1 });
      expect(ack).toMatchObject({ ok: true, version: 1 });
      expect(await updated).toMatchObject({ sheet_id: sheet, cell_id: 'A1', value: 1, version: 1 });
      expect(await request(bob, 'cell_update', { sheet_id: sheet, cell_id: 'A1', value: 2, version: 0 })).toMatchObject({ ok: false });
    }

    // Stream items posted to pod A reach a subscriber on pod B; both pods count as receivers.
    const streams = await connectV4(urlOf(b), token({ sub: 'carol' }), { namespace: '/streams' });
    expect(await request(streams, 'subscribe', { type: 'events' })).toMatchObject({ ok: true });
    const data = waitFor(streams, 'data', (d) => d.data.event?.event_id === 'e1');
    const posted = await fetch(urlOf(a, '/api/v1/streams/events'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${adminToken()}` },
      body: JSON.stringify({ event_id: 'e1' }),
    });
    expect(await posted.json()).toMatchObject({ type: 'events', accepted: 1, receivers: 2 });
    await data;
    // A backend's plain PUBLISH on the channel, to whichever node, reaches them too.
    const published = waitFor(streams, 'data', (d) => d.data.event?.event_id === 'e2');
    await redis.client.publish('rg:streams', JSON.stringify({ type: 'events', item: { event_id: 'e2' } }));
    await published;

    // Stats ask every pod through the adapter: both answer.
    const stats = await fetch(urlOf(b, '/api/v1/ws/stats'), { headers: { Authorization: `Bearer ${adminToken()}` } }).then((r) => r.json() as Promise<any>);
    expect(stats).toMatchObject({ pods: 2, partial: false, total_connections: 3 });

    // A listener on the adapter's channel that never answers counts as a pod: the stats wait
    // STATS_TIMEOUT_MS (2 s, the default: time enough for both pods to answer on a busy machine)
    // for it, not the sharded adapter's own 5 s, then answer with what arrived.
    const silent = new Cluster(redis.cluster.ports.map((port) => ({ host: '127.0.0.1', port })), { shardedSubscribers: true });
    try {
      await silent.ssubscribe('socket.io#/#');
      const askedAt = Date.now();
      const partial = await fetch(urlOf(a, '/api/v1/ws/stats'), { headers: { Authorization: `Bearer ${adminToken()}` } }).then((r) => r.json() as Promise<any>);
      expect(partial).toMatchObject({ pods: 2, partial: true });
      expect(Date.now() - askedAt).toBeLessThan(4500);
    } finally {
      silent.disconnect();
    }

    process.stdout.write(`master restart: down and back in ${restartMs} ms; every room crossing both ways again within ${crossingAgainMs} ms\n`);
  }, 60_000);
});
