// Stream `data` events are encoded once per item and spliced per subscriber
// (server/streams/data-event.ts): on the wire, each subscriber must receive exactly the text that
// `socket.emit('data', {subscription_id, data})` would have sent, whatever the item's size (the
// three WebSocket length encodings) and characters, in `/` and in a named namespace. Read here with
// a raw WebSocket speaking Engine.IO 4, so the frames themselves are checked, not a client's parse.
import { Encoder } from 'socket.io-parser';
import WebSocket from 'ws';
import { startGateway, urlOf, writeCalls } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import { Progress } from './support/progress';
import { adminToken, token } from './support/tokens';

cleanUpAfterEach();

/** A raw Engine.IO 4 WebSocket: every text message, in order. */
class RawSocket {
  private readonly queue: string[] = [];
  private readonly progress = new Progress();
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = data.toString();
      if (!isBinary && text === '2') return void ws.send('3'); // Engine.IO ping
      // A binary frame is queued as is: it fails the comparison of whichever test reads it.
      this.queue.push(text);
      this.progress.notify();
    });
  }

  static async open(url: string): Promise<RawSocket> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
    const raw = new RawSocket(ws);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return raw;
  }

  async next(): Promise<string> {
    await this.progress.until(() => this.queue.length > 0, 5000, 'a message within 5 s');
    return this.queue.shift()!;
  }

  close(): void {
    this.ws.close();
  }
}

const encoder = new Encoder();
/** What socket.io sends for `socket.emit(...args)` in `nsp`: the Engine.IO message `4` + the encoded packet. */
const wireOf = (nsp: string, args: unknown[]) => `4${encoder.encode({ type: 2, nsp, data: args })[0] as string}`;

it.each(['/streams', '/'])('sends each subscriber in %s the exact text socket.emit would', async (nsp) => {
  const gw = await startGateway({ ADMIN_BODY_MAX_BYTES: String(1024 * 1024) });
  const raw = await RawSocket.open(urlOf(gw));
  const prefix = nsp === '/' ? '' : `${nsp},`;
  expect(await raw.next()).toMatch(/^0\{/); // Engine.IO open
  raw.ws.send(`40${prefix}${JSON.stringify({ token: token({ sub: 'wire-reader' }) })}`);
  expect(await raw.next()).toMatch(new RegExp(`^40${prefix.replace('/', '\\/')}\\{"sid"`));
  const ids: string[] = [];
  for (const [ack, filters] of [{ kind: 'wire' }, {}].entries()) {
    raw.ws.send(`42${prefix}${ack}${JSON.stringify(['subscribe', { type: 'events', filters }])}`);
    let reply = await raw.next();
    while (!reply.startsWith(`43${prefix}${ack}`)) reply = await raw.next(); // e.g. a welcome event first
    ids.push(JSON.parse(reply.slice(`43${prefix}${ack}`.length))[0].subscription_id);
  }

  const items = [
    { kind: 'wire', n: 1, text: 'small' }, // payload under 64 KiB: 16-bit length
    { kind: 'wire', n: 2, text: 'ünïcödé ✓ 🚀 "quoted" \\ back\nslash', nested: { a: [1, null, true] } },
    { kind: 'wire', n: 3, text: 'x'.repeat(70_000) }, // over 64 KiB: 64-bit length
  ];
  const res = await fetch(urlOf(gw, '/api/v1/streams/events'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${adminToken()}` },
    body: JSON.stringify(items),
  });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ accepted: 3, delivered: 6 });

  const received: string[] = [];
  for (let i = 0; i < 6; i++) received.push(await raw.next());
  const expected = items.flatMap((item) =>
    ids.map((subscription_id) => wireOf(nsp, ['data', { subscription_id, data: { event: item, subscription_type: 'events' } }])),
  );
  expect([...received].sort()).toEqual(expected.sort());
  // In publication order per subscription.
  for (const id of ids) {
    const mine = received.filter((text) => text.includes(JSON.stringify(id)));
    expect(mine.map((text) => JSON.parse(text.slice(text.indexOf('[')))[1].data.event.n)).toEqual([1, 2, 3]);
  }
  raw.close();
});

it("writes one subscriber an item batch's matches with one system call, as room broadcasts are (FAST_BROADCAST)", async () => {
  // On, whatever FAST_BROADCAST the suite runs with (socket.io's path makes one write per event).
  const gw = await startGateway({ FAST_BROADCAST: 'true' });
  const raw = await RawSocket.open(urlOf(gw));
  await raw.next();
  raw.ws.send(`40/streams,${JSON.stringify({ token: token({ sub: 'batch-reader' }) })}`);
  await raw.next();
  raw.ws.send(`42/streams,0${JSON.stringify(['subscribe', { type: 'metrics', filters: { host: 'a' } }])}`);
  while (!(await raw.next()).startsWith('43/streams,0'));
  const [server] = gw.io.of('/streams').sockets.values();
  const calls = writeCalls(server);

  const items = Array.from({ length: 20 }, (_, n) => ({ host: n % 2 ? 'b' : 'a', n }));
  const res = await fetch(urlOf(gw, '/api/v1/streams/metrics'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${adminToken()}` },
    body: JSON.stringify(items),
  });
  expect(await res.json()).toMatchObject({ accepted: 20, delivered: 10 });
  const got: number[] = [];
  for (let i = 0; i < 10; i++) got.push(JSON.parse((await raw.next()).slice('42/streams,'.length))[1].data.metric.n);
  expect(got).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  expect(calls).toEqual([10]);
  raw.close();
});
