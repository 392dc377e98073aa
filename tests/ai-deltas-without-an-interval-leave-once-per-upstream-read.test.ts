import { DeltaCoalescer, type CoalescedDelta } from '../server/ai/coalescer';
import { collect, connectV4, request, waitFor } from './support/clients';
import { FakeOpenAI } from './support/fake-openai';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import { token } from './support/tokens';

cleanUpAfterEach();

type AiEvent = { event_type: string; data: { delta: string; progress: number; result: string } };

describe('AI_PROGRESS_INTERVAL_MS=0', () => {
  it('holds no delta past the I/O callback that parsed it, and sends the deltas of one callback as one flush', async () => {
    const flushes: CoalescedDelta[] = [];
    const coalescer = new DeltaCoalescer(0, (d) => flushes.push(d));
    coalescer.add({ content: 'a' });
    coalescer.add({ content: 'b', reasoning: 'r' });
    coalescer.add({ toolCalls: [{ index: 0, name: 'look', arguments: '{"x"' }] });
    coalescer.add({ toolCalls: [{ index: 0, arguments: ':1}' }] });
    expect(flushes).toEqual([]);
    await Promise.resolve(); // the callback's microtasks: the flush runs before any later I/O
    expect(flushes).toEqual([{ content: 'ab', reasoning: 'r', toolCalls: [{ index: 0, name: 'look', arguments: '{"x":1}' }] }]);

    coalescer.add({ content: 'c' });
    coalescer.flush(); // the stream's end flushes at once; the queued flush then finds nothing
    await Promise.resolve();
    expect(flushes.map((d) => d.content)).toEqual(['ab', 'c']);
  });

  it('turns 200 events that arrive in a few reads into a few ai_progress events, concatenating exactly to the result', async () => {
    const upstream = await FakeOpenAI.start();
    try {
      const gw = await startGateway({ AI_UPSTREAM_URL: upstream.url, AI_PROGRESS_INTERVAL_MS: '0' });
      const chunks = FakeOpenAI.tokens(200);
      upstream.script(FakeOpenAI.stream(chunks, { intervalMs: 0 })); // written at once: few TCP reads
      const tab = await connectV4(urlOf(gw), token({ sub: 'ada' }), { namespace: '/ai' });
      const events = collect<AiEvent>(tab, 'ai_event');
      const complete = waitFor<AiEvent>(tab, 'ai_event', (e) => e.event_type === 'ai_complete', 10_000);
      expect(await request(tab, 'ai_request', { request_id: 'r1', query: 'Summarise' })).toMatchObject({ ok: true });
      const done = await complete;

      const expected = chunks.map((c) => c.content).join('');
      const progress = events.filter((e) => e.event_type === 'ai_progress');
      expect(done.data.result).toBe(expected);
      expect(progress.map((e) => e.data.delta).join('')).toBe(expected);
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.length).toBeLessThan(50);
      expect(progress[progress.length - 1].data.progress).toBe(expected.length);
    } finally {
      await upstream.close();
    }
  });
});
