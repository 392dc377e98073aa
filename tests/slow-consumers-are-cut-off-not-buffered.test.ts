import type { Socket as NetSocket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Socket } from 'socket.io-client';
import type { Gateway } from '../server/gateway';
import { unsentBytes } from '../server/slow-consumers';
import type { GatewaySocket } from '../server/types';
import { connectV4, request, waitFor } from './support/clients';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import { closeNatives, Endpoints, openNative, wsUrl, type NativeClient } from './support/native';
import { token } from './support/tokens';

const SOFT = 65536;
const HARD = 1048576;
const TIMEOUT_MS = 2000;
const ENV = {
  MAX_BUFFERED_BYTES: String(SOFT),
  SLOW_CONSUMER_MAX_BYTES: String(HARD),
  SLOW_CONSUMER_TIMEOUT_MS: String(TIMEOUT_MS),
  WEBSOCKET_REQUESTS_PER_MINUTE: '0',
  WEBSOCKET_REQUESTS_PER_HOUR: '0',
  CONNECTION_REQUESTS_PER_MINUTE: '0',
  ROOM_BROADCASTS_PER_MINUTE: '0',
};
const ROOM = 'flood';
/** The author of the chat messages a test broadcasts from the server side. */
const AUTHOR = { userId: 'server', username: 'server' };
/** ~3.5 KB of chat per message; the sequence number leads so readers can check order. */
const FILLER = 'x'.repeat(3500);
const content = (seq: number) => `${seq}|${FILLER}`;
const seqOf = (text: string) => Number(text.slice(0, text.indexOf('|')));

/** A counter of the gateway's own Prometheus registry, summed over its labels. */
async function counter(gw: Gateway, name: string): Promise<number> {
  const metric = gw.metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values.reduce((sum, { value }) => sum + value, 0);
}

/** Resolves at the next call of a gateway metrics method (the watcher reports its drops once per sweep). */
function nextCall(gw: Gateway, method: 'volatileDropped' | 'slowConsumerDisconnected'): Promise<void> {
  const metrics = gw.metrics as unknown as Record<string, (...args: unknown[]) => void>;
  const original = metrics[method];
  return new Promise((resolve) => {
    metrics[method] = function (this: unknown, ...args: unknown[]) {
      delete metrics[method];
      original.apply(this, args);
      resolve();
    };
  });
}

let pausedSockets: NetSocket[] = [];
// Declared before cleanUpAfterEach, so it runs first: a client still paused (a failed test) would
// hold its connection, and the gateway's close, open until ws's 30 s closing timeout.
afterEach(() => {
  for (const tcp of pausedSockets) tcp.destroy();
  pausedSockets = [];
  closeNatives();
});
cleanUpAfterEach();

/** The engine.io connection serving a user on this pod (its `/` socket's). */
function serverConn(gw: Gateway, userId: string): GatewaySocket['conn'] {
  for (const socket of gw.io.of('/').sockets.values()) if (socket.data.principal?.userId === userId) return socket.conn;
  throw new Error(`no server socket for ${userId}`);
}

/** Stops reading: the TCP socket under a socket.io-client v4 websocket transport, or under a ws client. */
const tcpOfV4 = (socket: Socket) => (socket.io.engine.transport as unknown as { ws: { _socket: NetSocket } }).ws._socket;
const tcpOfNative = (client: NativeClient) => (client.ws as unknown as { _socket: NetSocket })._socket;
const stopReading = (tcp: NetSocket) => {
  pausedSockets.push(tcp);
  tcp.pause();
};

/** A seed 004 chat client in ROOM (joined from contextId), ready once a room_state lists it. */
async function chatNative(gw: Gateway, sub: string): Promise<NativeClient> {
  const client = await openNative(wsUrl(gw, Endpoints.chat, { token: token({ sub }), contextId: ROOM }));
  await client.next((f) => f.type === 'room_state' && f.data.users.some((u: { user_id: string }) => u.user_id === sub));
  return client;
}

/** A native client that keeps only the sequence numbers of the chat messages it reads. */
function nativeSeqs(client: NativeClient): number[] {
  const seqs: number[] = [];
  client.ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString());
    if (frame.type === 'message') seqs.push(seqOf(frame.data.content));
  });
  return seqs;
}

/** Resolves when `list` holds `n` items (checked on each `event` of `emitter`). */
function whenCount(list: unknown[], n: number, emitter: { on(e: string, f: () => void): unknown; off(e: string, f: () => void): unknown }, event: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (list.length < n) return;
      clearTimeout(timer);
      emitter.off(event, check);
      resolve();
    };
    const timer = setTimeout(() => {
      emitter.off(event, check);
      reject(new Error(`only ${list.length} of ${n} ${event}s arrived`));
    }, timeoutMs);
    emitter.on(event, check);
    check();
  });
}

/** Rejects when `promise` has not settled within `ms` (what the test was waiting for, named). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer!: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Sends `count` chat messages from `first` on, `batch` at a time, each batch acked before the next. */
async function flood(sender: Socket, first: number, count: number, batch: number, after?: () => boolean): Promise<number> {
  let sent = 0;
  while (sent < count) {
    const n = Math.min(batch, count - sent);
    const acks = await Promise.all(Array.from({ length: n }, (_, i) => request(sender, 'message', { content: content(first + sent + i), room_id: ROOM }, 10_000)));
    for (const ack of acks) expect(ack).toMatchObject({ ok: true });
    sent += n;
    if (after?.()) break;
  }
  return sent;
}

describe('slow consumers', () => {
  it('a flooded room: clients that stop reading are cut off at the bound, readers get every message in order, memory stays flat', async () => {
    const gw = await startGateway(ENV);
    const url = urlOf(gw);
    const sender = await connectV4(url, token({ sub: 'sender' }), { namespace: '/chat' });
    await request(sender, 'join_room', { room_id: ROOM });
    const reader = await connectV4(url, token({ sub: 'reader' }));
    await request(reader, 'join_room', { room_id: ROOM });
    const nativeReader = await chatNative(gw, 'native-reader');
    const slowV4 = await connectV4(url, token({ sub: 'slow-v4' }));
    await request(slowV4, 'join_room', { room_id: ROOM });
    const slowNative = await chatNative(gw, 'slow-native');

    const readerSeqs: number[] = [];
    reader.on('message', (m: { content: string }) => readerSeqs.push(seqOf(m.content)));
    const nativeReaderSeqs = nativeSeqs(nativeReader);
    const slowV4Disconnected = new Promise<string>((resolve) => slowV4.once('disconnect', resolve));

    const slowConns = [serverConn(gw, 'slow-v4'), serverConn(gw, 'slow-native')];
    // What each slow connection had unsent when it was cut off (engine.io empties writeBuffer a tick after `close`).
    const unsentAtClose: number[] = [];
    const serverClosed = slowConns.map((conn) => new Promise<void>((resolve) => conn.once('close', () => resolve(void unsentAtClose.push(unsentBytes(conn))))));
    stopReading(tcpOfV4(slowV4));
    stopReading(tcpOfNative(slowNative));

    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    let unsentPeak = 0;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      for (const conn of slowConns) if (conn.readyState !== 'closed') unsentPeak = Math.max(unsentPeak, unsentBytes(conn));
    }, 50);
    const N = 3000;
    try {
      const startedAt = Date.now();
      await flood(sender, 0, N, 100);
      await Promise.all([
        whenCount(readerSeqs, N, reader, 'message', 10_000),
        whenCount(nativeReaderSeqs, N, nativeReader.ws, 'message', 10_000),
        within(Promise.all(serverClosed), TIMEOUT_MS + 1000, 'the slow connections to be cut off'),
      ]);
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      console.log(
        `flood of ${N} x 3.5 KB in ${Date.now() - startedAt} ms: RSS ${(rssBefore / 2 ** 20).toFixed(1)} MB -> peak ${(rssPeak / 2 ** 20).toFixed(1)} MB; ` +
          `unsent bytes: sampled peak ${unsentPeak}, at cut-off ${unsentAtClose.join(' and ')}`,
      );
    } finally {
      clearInterval(sampler);
    }

    expect(readerSeqs).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(nativeReaderSeqs).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(await counter(gw, 'gateway_slow_consumer_disconnects_total')).toBe(2);
    expect(rssPeak - rssBefore).toBeLessThan(150 * 2 ** 20);
    // Cut off at the hard bound, not at the end of the flood (the sweep runs every 250 ms: a
    // connection can pass the bound by that long's share of the flood, ~2 MB at this rate).
    for (const bytes of [unsentPeak, ...unsentAtClose]) expect(bytes).toBeLessThan(4 * HARD);

    // Once they read again, the slow clients find out: native with 1008, Socket.IO by its transport closing.
    tcpOfV4(slowV4).resume();
    tcpOfNative(slowNative).resume();
    const closed = await within(slowNative.closed, 5000, 'the slow native client to see its close');
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/^Client too slow: \d+ bytes unsent$/);
    expect(await within(slowV4Disconnected, 5000, 'the slow v4 client to see its disconnect')).toBe('transport close');
  }, 30_000);

  it('over the soft bound, a volatile broadcast is dropped also when the backlog is all in the socket, where the fast path writes', async () => {
    const gw = await startGateway(ENV);
    const paused = await connectV4(urlOf(gw), token({ sub: 'paused-socket' }));
    const roomState = waitFor(paused, 'room_state');
    await request(paused, 'join_room', { room_id: ROOM });
    await roomState; // what the join pushes is in before the client stops reading
    const conn = serverConn(gw, 'paused-socket');
    stopReading(tcpOfV4(paused));
    const nsp = gw.io.of('/');
    // Server-side broadcasts only: Engine.IO writes nothing of its own to the connection, so with
    // FAST_BROADCAST on its write buffer stays empty and every frame goes to the socket (with it
    // off, they pile up in the write buffer behind the first write the kernel did not take).
    for (let seq = 0; unsentBytes(conn) <= SOFT && seq < 5000; seq++) {
      const at = new Date().toISOString();
      nsp.to(`room:${ROOM}`).emit('message', { id: `m${seq}`, room_id: ROOM, content: content(seq), messageType: 'text', author: AUTHOR, timestamp: at });
      await nextTurn();
    }
    const unsent = unsentBytes(conn);
    expect(unsent).toBeGreaterThan(SOFT);
    expect(unsent).toBeLessThan(HARD);

    const dropReported = nextCall(gw, 'volatileDropped');
    nsp.to(`room:${ROOM}`).volatile.emit('cursor_moved', { user_id: 'probe', username: 'probe', room_id: ROOM, cursor: { x: 1, y: 2 } });
    await nextTurn(); // a batch of the fast path is written by now
    expect(unsentBytes(conn)).toBe(unsent);
    if (gw.config.fastBroadcast) {
      // The fast path's own drop is counted. (socket.io's path drops a volatile packet to a
      // transport that is not writable itself, before the gateway sees it: not counted.)
      await within(dropReported, 1000, 'the drop to be counted');
      expect(await counter(gw, 'gateway_volatile_dropped_total')).toBe(1);
    }
  });

  it('over the soft bound, volatile cursor moves to a paused client are dropped, not queued; over it for the timeout, it is cut off', async () => {
    const gw = await startGateway(ENV);
    const url = urlOf(gw);
    const mover = await connectV4(url, token({ sub: 'mover' }));
    await request(mover, 'join_room', { room_id: ROOM });
    const watcher = await connectV4(url, token({ sub: 'watcher' }));
    await request(watcher, 'join_room', { room_id: ROOM });
    const paused = await connectV4(url, token({ sub: 'paused' }));
    await request(paused, 'join_room', { room_id: ROOM });
    const conn = serverConn(gw, 'paused');
    const pausedDisconnected = new Promise<string>((resolve) => paused.once('disconnect', resolve));
    let unsentAtClose = -1;
    const closedAt = new Promise<number>((resolve) =>
      conn.once('close', () => {
        unsentAtClose = unsentBytes(conn); // writeBuffer is emptied only on the next tick
        resolve(Date.now());
      }),
    );
    stopReading(tcpOfV4(paused));

    // Fill the kernel's buffers, then engine.io's, until the paused connection is over the soft bound (well under the hard one).
    // It went over during the last batch: not before that batch was sent.
    let overNotBefore = Date.now();
    const sent = await flood(mover, 0, 3000, 10, () => {
      if (unsentBytes(conn) > SOFT) return true;
      overNotBefore = Date.now();
      return false;
    });
    const overAt = Date.now();
    const unsent = unsentBytes(conn);
    expect(unsent).toBeGreaterThan(SOFT);
    expect(unsent).toBeLessThan(HARD);

    const queued = () => (conn as unknown as { writeBuffer: Array<{ data?: unknown }> }).writeBuffer;
    const cursorPackets = () => queued().filter((p) => typeof p.data === 'string' && p.data.includes('"cursor_moved"')).length;
    const lengthBefore = queued().length;
    const unsentBefore = unsentBytes(conn);
    // Dropped whichever path the broadcast takes: socket.io's (the write buffer) or the fast one
    // (straight to the socket, where the bytes would show in the unsent count, not the buffer).
    const moved = waitFor(watcher, 'cursor_moved');
    mover.emit('cursor_move', { room: ROOM, x: 10, y: 20 });
    expect((await moved).cursor).toEqual({ x: 10, y: 20 });
    expect(cursorPackets()).toBe(0);
    expect(queued().length).toBe(lengthBefore);
    expect(unsentBytes(conn)).toBe(unsentBefore);

    // The decision is the connection's own write, whatever socket.io decided before it: a volatile
    // packet is dropped (and counted), an ordinary one is kept: queued in Engine.IO's buffer, or,
    // when the backlog is all in the socket (the fast path's writes), handed to the socket.
    const dropReported = nextCall(gw, 'volatileDropped');
    conn.write('2["cursor_moved",{"user_id":"probe"}]', { volatile: true } as never);
    conn.write(Buffer.from('attachment'), { volatile: true } as never); // a binary event's attachment follows its packet
    expect(queued().length).toBe(lengthBefore);
    expect(unsentBytes(conn)).toBe(unsentBefore);
    conn.write('2["probe",{}]');
    expect(unsentBytes(conn)).toBeGreaterThan(unsentBefore);
    await within(dropReported, 1000, 'the drop to be counted');
    expect(await counter(gw, 'gateway_volatile_dropped_total')).toBeGreaterThanOrEqual(1);

    // Still under the hard bound, it is cut off once over the soft one for SLOW_CONSUMER_TIMEOUT_MS.
    const cutAt = await within(closedAt, TIMEOUT_MS + 1000, 'the paused connection to be cut off');
    console.log(`paused client over ${SOFT} after ${sent} messages (${unsent} bytes unsent); cut off ${cutAt - overAt} ms later with ${unsentAtClose} bytes unsent`);
    expect(await counter(gw, 'gateway_slow_consumer_disconnects_total')).toBe(1);
    expect(unsentAtClose).toBeGreaterThan(SOFT);
    expect(unsentAtClose).toBeLessThan(HARD);
    // Not before SLOW_CONSUMER_TIMEOUT_MS over the soft bound, measured from the start of the batch
    // that took it over: overAt comes after that batch's acks, which a busy machine can delay.
    expect(cutAt - overNotBefore).toBeGreaterThanOrEqual(TIMEOUT_MS - 500);

    tcpOfV4(paused).resume();
    expect(await within(pausedDisconnected, 5000, 'the paused client to see its disconnect')).toBe('transport close');
  }, 20_000);
});
