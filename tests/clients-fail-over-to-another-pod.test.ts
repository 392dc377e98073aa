import { NativeClient, SocketClient, agentsDialect, workspaceDialect } from '../clients/src';
import { collect, connectV4, request, waitFor } from './support/clients';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';
import { PodProcess } from './support/pods';
import { token } from './support/tokens';
import { nextEvent } from './support/client-events';

// Clients close before the pods are killed (hooks run in the order they are registered).
const clients = new Set<SocketClient | NativeClient>();
afterEach(() => {
  for (const c of clients) c.close();
  clients.clear();
});
cleanUpAfterEach();
const redis = useRedis();

type AnyClient = SocketClient | NativeClient;

const next: typeof nextEvent = (c, event, match, timeoutMs = 8000) => nextEvent(c, event, match, timeoutMs);

describe('clients fail over to another pod', () => {
  it('a SIGKILLed pod: every client reconnects to the next URL, joins its rooms again and flushes what it queued, in order', async () => {
    const env = { REDIS_URL: redis.url };
    const [doomed, survivor] = await Promise.all([PodProcess.start(env), PodProcess.start(env)]);
    const urls = [doomed.url, survivor.url];
    const backoff = { initialDelayMs: 50, maxDelayMs: 500 };
    const sio = new SocketClient({ url: urls, token: token({ sub: 'sia' }), namespace: '/chat', backoff });
    const flat = new NativeClient({ url: urls, dialect: workspaceDialect, token: token({ sub: 'fen' }), backoff });
    const agent = new NativeClient({ url: urls, dialect: agentsDialect, token: token({ sub: 'ags' }), backoff });
    const all: AnyClient[] = [sio, flat, agent];
    all.forEach((c) => clients.add(c));
    await Promise.all(all.map((c) => c.ready()));
    for (const c of all) expect(c.stats.url).toContain(`:${doomed.port}`);
    await sio.request('join_room', { room_id: 'fo' });
    await agent.request('join_room', { room_id: 'fo' });
    const flatJoined = next(flat, 'room_state', (s) => s.room_id === 'fo' && s.users.some((u) => u.user_id === 'fen'));
    flat.send('join_room', { room_id: 'fo' });
    await flatJoined;

    // Watching from the surviving pod: cross-pod delivery through Redis.
    const observer = await connectV4(survivor.url, token({ sub: 'obs' }));
    await request(observer, 'join_room', { room_id: 'fo' });
    const seen = collect<{ content: string; author: { userId: string } }>(observer, 'message');

    // What a client sends once it knows its pod is gone waits in its queue (nothing is
    // written to a dead socket), then goes out in order on the new pod.
    const sent: Array<Promise<unknown>> = [];
    sio.once('disconnect', () => sent.push(sio.request('message', { content: 's1', room_id: 'fo' }), sio.request('message', { content: 's2', room_id: 'fo' })));
    flat.once('disconnect', () => {
      flat.send('message', { content: 'w1', room_id: 'fo' });
      flat.send('message', { content: 'w2', room_id: 'fo' });
    });
    agent.once('disconnect', () => sent.push(agent.request('message', { content: 'a1', room_id: 'fo' }), agent.request('message', { content: 'a2', room_id: 'fo' })));
    const back = all.map((c) => next(c, 'connect', (info) => info.reconnect));
    const delivered = Promise.all(['s2', 'w2', 'a2'].map((content) => waitFor(observer, 'message', (m: { content: string }) => m.content === content, 10_000)));

    expect(await doomed.signal('SIGKILL')).toBeNull();
    for (const info of await Promise.all(back)) expect(info.url).toContain(`:${survivor.port}`);
    await Promise.all(sent);
    await delivered;

    const from = (user: string) => seen.filter((m) => m.author.userId === user).map((m) => m.content);
    expect(from('sia')).toEqual(['s1', 's2']);
    expect(from('fen')).toEqual(['w1', 'w2']);
    expect(from('ags')).toEqual(['a1', 'a2']);
    for (const c of all) expect(c.stats).toMatchObject({ connected: true, connects: 2, reconnects: 1, queued: 0, dropped: 0 });
  });
});
