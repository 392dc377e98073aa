import { collect, connectV4, request, waitFor } from './support/clients';
import { PodProcess } from './support/pods';
import { startGateway, urlOf } from './support/gateway';
import { token } from './support/tokens';
import { cleanUpAfterEach, useRedis } from './support/lifecycle';

const redis = useRedis();
cleanUpAfterEach();

describe('chat', () => {
  it('delivers messages to the whole room with unique ids, typing to the others, and joins and leaves', async () => {
    const gw = await startGateway();
    const ann = await connectV4(urlOf(gw), token({ sub: 'ann', name: 'Ann' }), { namespace: '/chat' });
    const ben = await connectV4(urlOf(gw), token({ sub: 'ben', name: 'Ben' }), { namespace: '/chat' });
    await request(ann, 'join_room', { room_id: 'context_123' });
    const benJoined = waitFor(ann, 'user_joined');
    await request(ben, 'join_room', { room_id: 'context_123' });
    expect(await benJoined).toEqual({ userId: 'ben', username: 'Ben', room_id: 'context_123' });

    const toAnn = waitFor(ann, 'message');
    const toBen = waitFor(ben, 'message');
    const ack = await request(ann, 'message', { content: 'Hello, everyone!', messageType: 'text' });
    expect(ack).toMatchObject({ ok: true, id: expect.any(String) });
    const delivered = await toBen;
    expect(delivered).toEqual({
      id: ack.id,
      room_id: 'context_123',
      content: 'Hello, everyone!',
      messageType: 'text',
      author: { userId: 'ann', username: 'Ann' },
      timestamp: expect.stringMatching(/^\d{4}-/),
    });
    expect(await toAnn).toEqual(delivered);

    const annTyping = collect(ann, 'typing');
    const typing = waitFor(ben, 'typing');
    ann.emit('typing', { isTyping: true });
    expect(await typing).toEqual({ userId: 'ann', username: 'Ann', isTyping: true, room_id: 'context_123' });

    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => request(ben, 'message', { content: `m${i}` }).then((a) => a.id)));
    expect(new Set(ids).size).toBe(50);
    expect(annTyping).toEqual([]);

    const benLeft = waitFor(ann, 'user_left');
    ben.close();
    expect(await benLeft).toEqual({ userId: 'ben', username: 'Ben', room_id: 'context_123' });
  });

  it('asks for the room when a socket is in several, and refuses rooms it is not in', async () => {
    const gw = await startGateway();
    const s = await connectV4(urlOf(gw), token({ sub: 's' }), { namespace: '/chat' });
    expect((await request(s, 'message', { content: 'x' })).error.code).toBe('NOT_IN_ROOM');
    await request(s, 'join_room', { room_id: 'one' });
    await request(s, 'join_room', { room_id: 'two' });
    expect((await request(s, 'message', { content: 'x' })).error).toMatchObject({ code: 'INVALID_MESSAGE', issues: [{ path: 'room_id' }] });
    expect((await request(s, 'message', { content: 'x', room_id: 'three' })).error.code).toBe('NOT_IN_ROOM');
    expect((await request(s, 'message', { content: 'x', room_id: 'two' })).ok).toBe(true);
  });

  it('keeps a capped history, newest last, paged with before', async () => {
    const gw = await startGateway({ CHAT_HISTORY_CAP: '5' });
    const s = await connectV4(urlOf(gw), token({ sub: 's' }), { namespace: '/chat' });
    await request(s, 'join_room', { room_id: 'r' });
    const stamps: string[] = [];
    for (let i = 0; i < 8; i++) {
      stamps.push((await request(s, 'message', { content: `m${i}` })).timestamp);
      await new Promise((r) => setTimeout(r, 2)); // distinct timestamps
    }
    const all = await request(s, 'history', { limit: 50 });
    expect(all.messages.map((m: { content: string }) => m.content)).toEqual(['m3', 'm4', 'm5', 'm6', 'm7']);
    const page = await request(s, 'history', { limit: 2, before: stamps[6] });
    expect(page.messages.map((m: { content: string }) => m.content)).toEqual(['m4', 'm5']);
    const viaEvent = waitFor(s, 'history');
    s.emit('history', { limit: 1 });
    expect((await viaEvent).messages.map((m: { content: string }) => m.content)).toEqual(['m7']);
  });

  it('history outlives the pod that wrote it', async () => {
    const writerPod = await PodProcess.start({ REDIS_URL: redis.url });
    const readerPod = await startGateway({ REDIS_URL: redis.url });
    const writer = await connectV4(writerPod.url, token({ sub: 'writer' }), { namespace: '/chat' });
    await request(writer, 'join_room', { room_id: 'durable' });
    for (let i = 0; i < 3; i++) await request(writer, 'message', { content: `kept ${i}` });
    expect(await writerPod.signal('SIGTERM')).toBe(0);

    const reader = await connectV4(urlOf(readerPod), token({ sub: 'reader' }), { namespace: '/chat' });
    await request(reader, 'join_room', { room_id: 'durable' });
    const history = await request(reader, 'history', { limit: 10 });
    expect(history.messages.map((m: { content: string; author: { userId: string } }) => [m.content, m.author.userId])).toEqual([
      ['kept 0', 'writer'],
      ['kept 1', 'writer'],
      ['kept 2', 'writer'],
    ]);
  });
});
