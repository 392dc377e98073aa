import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Server, type ServerOptions } from 'socket.io';
import { Adapter } from 'socket.io-adapter';
import { io as ioV4 } from 'socket.io-client';
import winston from 'winston';
import type { Gateway } from '../server/gateway';
import { enableFastBroadcast, fastBroadcastProblems } from '../server/fast-broadcast';
import { closeClients, connectV2, connectV4, request } from './support/clients';
import { startGateway, stopGateway, stopGateways, urlOf, writeCalls } from './support/gateway';
import { closeNatives, connectWorkspace, type NativeClient } from './support/native';
import { Progress } from './support/progress';
import { token } from './support/tokens';

afterEach(() => {
  closeClients();
  closeNatives();
});
afterAll(stopGateways);

/** Every receipt of a test notifies it: the waits below re-check their condition then. */
const progress = new Progress();

const ROOM = 'fast';
const TEXT = 'héllo ✓ 日本語 🚀';

type Received = Array<{ n: number; text?: string; bin?: number; direct?: boolean }>;

/** Every kind of client the gateway serves, in one room, each collecting what it receives, in order. */
async function clientsIn(gw: Gateway) {
  const v4ws = await connectV4(urlOf(gw), token({ sub: 'u-ws' }));
  const v4polling = await connectV4(urlOf(gw), token({ sub: 'u-polling' }), { transports: ['polling'] });
  const v4upgrade = await connectV4(urlOf(gw), token({ sub: 'u-upgrade' }), { transports: ['polling', 'websocket'] });
  const v2 = await connectV2(urlOf(gw), token({ sub: 'u-v2' }));
  const native = await connectWorkspace(gw, token({ sub: 'u-native' }));
  const sockets = { v4ws, v4polling, v4upgrade, v2 } as Record<string, { emit: (...a: any[]) => unknown; on: (e: string, l: (...a: any[]) => void) => unknown; id?: string }>;
  const got: Record<string, Received> = {};
  for (const [name, socket] of Object.entries(sockets)) {
    got[name] = [];
    socket.on('seq', (m: Received[number]) => {
      got[name].push({ ...m, ...(m.bin !== undefined ? { bin: (m.bin as unknown as Buffer).length ?? m.bin } : {}) });
      progress.notify();
    });
    expect(await request(socket as never, 'join_room', { room_id: ROOM })).toMatchObject({ ok: true });
  }
  native.send({ type: 'join_room', room_id: ROOM });
  await native.next('room_state');
  return { sockets, native, got };
}

const nativeSeq = (native: NativeClient): Received => native.take('seq').map((f: any) => ({ n: f.n, text: f.text, direct: f.direct }));

describe.each([
  ['on', 'true'],
  ['off', 'false'],
])('with FAST_BROADCAST %s', (_label, flag) => {
  it('every client (v4 websocket, polling, upgrading, v2, native) gets every broadcast and interleaved direct emit in order, text and binary alike', async () => {
    const gw = await startGateway({ FAST_BROADCAST: flag });
    const { sockets, native, got } = await clientsIn(gw);
    const nsp = gw.io.of('/') as any;
    const direct = nsp.sockets.get(sockets.v4ws.id!);
    // Bursts of broadcasts in one tick (coalesced on the fast path), with a direct emit and a
    // binary broadcast (never on the fast path) between them: order must hold for every client.
    let n = 0;
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 5; i++) nsp.to(`room:${ROOM}`).emit('seq', { n: n++, text: TEXT });
      direct.emit('seq', { n: n++, direct: true });
      nsp.to(`room:${ROOM}`).emit('seq', { n: n++, bin: Buffer.alloc(3, 7) });
      await nextTurn();
    }
    const total = n;
    // The native client's frames come on a connection of their own: waited for too, not assumed
    // to be in once the Socket.IO clients' are.
    const nativeExpected = [...Array(total).keys()].filter((k) => k % 7 < 5).length;
    native.ws.on('message', () => progress.notify());
    const done = () =>
      Object.entries(got).every(([name, list]) => list.length === (name === 'v4ws' ? total : total - 20)) &&
      native.received.filter((f) => f?.type === 'seq').length >= nativeExpected;
    await progress.until(done, 10_000, 'every seq').catch(() => undefined);
    for (const [name, list] of Object.entries(got)) {
      const expected = [...Array(total).keys()].filter((k) => name === 'v4ws' || k % 7 !== 5);
      expect({ name, ns: list.map((m) => m.n) }).toEqual({ name, ns: expected });
      expect(list.filter((m) => m.text !== undefined).every((m) => m.text === TEXT)).toBe(true);
      expect(list.filter((m) => m.bin !== undefined).every((m) => m.bin === 3)).toBe(true);
    }
    // The native client gets the text broadcasts (binary ones have no JSON form), in order.
    const nativeNs = nativeSeq(native).map((m) => m.n);
    expect(nativeNs).toEqual([...Array(total).keys()].filter((k) => k % 7 < 5));
    expect(nativeSeq(native)).toEqual([]);
  });

  it('passes no direct emit of the same tick: direct emits queued behind a write in flight, or behind a pending batch, stay ahead of later broadcasts', async () => {
    const gw = await startGateway({ FAST_BROADCAST: flag });
    const { native, got } = await clientsIn(gw);
    const nsp = gw.io.of('/') as any;
    const everyone = [...nsp.sockets.values()];
    expect(everyone).toHaveLength(5);
    const direct = (n: number) => everyone.forEach((s) => s.emit('seq', { n, direct: true }));
    const broadcast = (n: number) => nsp.to(`room:${ROOM}`).emit('seq', { n, text: TEXT });
    let n = 0;
    for (let round = 0; round < 10; round++) {
      // Two direct emits (the second waits in Engine.IO's buffer while the first is written), then
      // broadcasts that must go behind the second.
      direct(n++);
      direct(n++);
      broadcast(n++);
      broadcast(n++);
      await nextTurn();
      // A broadcast (its frame waits in the connection's batch), a direct emit that waits behind
      // it, then broadcasts that must go behind the direct emit.
      broadcast(n++);
      direct(n++);
      broadcast(n++);
      broadcast(n++);
      await nextTurn();
    }
    const total = n;
    native.ws.on('message', () => progress.notify());
    const done = () => Object.values(got).every((list) => list.length === total) && native.received.filter((f) => f?.type === 'seq').length >= total;
    await progress.until(done, 10_000, 'every seq').catch(() => undefined);
    const inOrder = [...Array(total).keys()];
    for (const [name, list] of Object.entries(got)) expect({ name, ns: list.map((m) => m.n) }).toEqual({ name, ns: inOrder });
    expect(nativeSeq(native).map((m) => m.n)).toEqual(inOrder);
  });

  it("shows every broadcast to the recipients' outgoing listeners (onAnyOutgoing), as socket.io does", async () => {
    const gw = await startGateway({ FAST_BROADCAST: flag });
    const { sockets, got } = await clientsIn(gw);
    const nsp = gw.io.of('/') as any;
    const seen: Array<[string, unknown]> = [];
    nsp.sockets.get(sockets.v4ws.id!).onAnyOutgoing((event: string, payload: unknown) => seen.push([event, payload]));
    nsp.to(`room:${ROOM}`).emit('seq', { n: 1 });
    nsp.to(`room:${ROOM}`).timeout(1000).emit('seq', { n: 2 }, () => undefined);
    await progress.until(() => got.v4ws.length >= 2, 5000, 'both seq').catch(() => undefined);
    expect(seen).toEqual([
      ['seq', { n: 1 }],
      ['seq', { n: 2 }],
    ]);
  });

  it('collects acks from every recipient of a broadcast with ack, and delivers volatile broadcasts when nothing is backed up', async () => {
    const gw = await startGateway({ FAST_BROADCAST: flag });
    const { sockets } = await clientsIn(gw);
    for (const socket of Object.values(sockets)) socket.on('question', (q: { x: number }, ack: (a: unknown) => void) => ack({ answer: q.x * 2 }));
    const nsp = gw.io.of('/') as any;
    // Four Socket.IO clients answer; the native client has no ack channel for server events, so the
    // broadcast ends at its timeout with the answers that came.
    const answers = await new Promise<Array<{ answer: number }>>((resolve) =>
      nsp.to(`room:${ROOM}`).timeout(1000).emit('question', { x: 21 }, (_err: unknown, responses: Array<{ answer: number }>) => resolve(responses)),
    );
    expect(answers.filter((a) => a?.answer === 42)).toHaveLength(4);

    const volatile: string[] = [];
    for (const [name, socket] of Object.entries(sockets)) socket.on('blip', () => (volatile.push(name), progress.notify()));
    nsp.to(`room:${ROOM}`).volatile.emit('blip', { at: Date.now() });
    await progress.until(() => volatile.length >= 4, 5000, 'every blip').catch(() => undefined);
    expect(volatile.sort()).toEqual(['v2', 'v4polling', 'v4upgrade', 'v4ws']);
  });
});

/** A client in the room gets ten broadcasts emitted in one tick: what it received, and its TCP writes (frames in each). */
async function tenBroadcastsInOneTick(gw: Gateway, sub: string): Promise<{ got: number[]; calls: number[] }> {
  const client = await connectV4(urlOf(gw), token({ sub }));
  expect(await request(client, 'join_room', { room_id: ROOM })).toMatchObject({ ok: true });
  const calls = writeCalls(gw.io.of('/').sockets.get(client.id!));
  const got: number[] = [];
  client.on('seq', (m: { n: number }) => (got.push(m.n), progress.notify()));
  for (let n = 0; n < 10; n++) (gw.io.of('/') as any).to(`room:${ROOM}`).emit('seq', { n });
  await progress.until(() => got.length >= 10, 5000, '10 seq').catch(() => undefined);
  return { got, calls };
}

describe('the fast path', () => {
  it('finds the engine.io, ws and socket.io-adapter internals it relies on, as installed', () => {
    expect(fastBroadcastProblems()).toEqual([]);
  });

  it('has the engine.io, ws and socket.io-adapter whose internals it reads pinned to exact versions, as installed, one copy each', () => {
    const pinned = (require('../package.json') as { dependencies: Record<string, string> }).dependencies;
    const socketIoDir = dirname(require.resolve('socket.io'));
    for (const name of ['engine.io', 'ws', 'socket.io-adapter']) {
      // The copy the fast path patches and reads is the one socket.io runs.
      const entry = require.resolve(name);
      expect({ name, entry: require.resolve(name, { paths: [socketIoDir] }) }).toEqual({ name, entry });
      const dir = entry.slice(0, entry.lastIndexOf(`node_modules/${name}/`) + `node_modules/${name}/`.length);
      const installed = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
      expect({ name, pinned: pinned[name] }).toEqual({ name, pinned: installed });
    }
  });

  it('skips excepted sockets and reaches a member of several rooms once, as socket.io does', async () => {
    const gw = await startGateway({ FAST_BROADCAST: 'true' });
    const clients = await Promise.all(['u-a', 'u-b', 'u-c'].map((sub) => connectV4(urlOf(gw), token({ sub }))));
    const [a, b, c] = clients;
    for (const client of clients) expect(await request(client, 'join_room', { room_id: ROOM })).toMatchObject({ ok: true });
    expect(await request(c, 'join_room', { room_id: 'other' })).toMatchObject({ ok: true });
    const got = clients.map(() => [] as number[]);
    clients.forEach((client, i) => client.on('seq', (m: { n: number }) => (got[i].push(m.n), progress.notify())));
    const nsp = gw.io.of('/') as any;
    const sender = nsp.sockets.get(a.id!);
    sender.to(`room:${ROOM}`).emit('seq', { n: 1 }); // every member but the sender
    nsp.to(`room:${ROOM}`).except(b.id!).emit('seq', { n: 2 }); // every member but b
    nsp.to(`room:${ROOM}`).to('room:other').emit('seq', { n: 3 }); // c is in both: once
    nsp.to(`room:${ROOM}`).emit('seq', { n: 4 });
    await progress.until(() => got.every((list) => list.at(-1) === 4), 5000, 'the last broadcast').catch(() => undefined);
    expect(got).toEqual([
      [2, 3, 4],
      [1, 3, 4],
      [1, 2, 3, 4],
    ]);
  });

  it('encodes nothing for a broadcast that no socket of this pod can receive', async () => {
    const gw = await startGateway({ FAST_BROADCAST: 'true' });
    const client = await connectV4(urlOf(gw), token({ sub: 'u-encode' }));
    expect(await request(client, 'join_room', { room_id: ROOM })).toMatchObject({ ok: true });
    const nsp = gw.io.of('/') as any;
    const encode = nsp.adapter._encode.bind(nsp.adapter);
    let encoded = 0;
    nsp.adapter._encode = (...args: unknown[]) => (encoded++, encode(...args));
    const got: number[] = [];
    client.on('seq', (m: { n: number }) => (got.push(m.n), progress.notify()));
    nsp.to('room:nobody-here').emit('seq', { n: 1 });
    (gw.io.of('/chat') as any).emit('seq', { n: 2 }); // a namespace without sockets
    expect(encoded).toBe(0);
    nsp.to('room:nobody-here').to(`room:${ROOM}`).emit('seq', { n: 3 });
    expect(encoded).toBe(1);
    await progress.until(() => got.length >= 1, 5000, '1 seq').catch(() => undefined);
    expect(got).toEqual([3]);
  });

  it('writes one socket several broadcasts of one tick with one system call', async () => {
    // On, whatever FAST_BROADCAST the suite runs with (socket.io's path makes one write per broadcast).
    const gw = await startGateway({ FAST_BROADCAST: 'true' });
    const { got, calls } = await tenBroadcastsInOneTick(gw, 'u-batch');
    expect(got).toEqual([...Array(10).keys()]);
    expect(calls).toEqual([10]);
  });
});

describe('another Socket.IO server of the process', () => {
  it('closing does not take the fast path from the servers still running', async () => {
    // socket.io's Server#close puts back the Adapter methods it captured when it was loaded (for
    // its uWebSockets.js support), which had turned this path off for every other server.
    const gw = await startGateway({ FAST_BROADCAST: 'true' });
    await stopGateway(await startGateway({ FAST_BROADCAST: 'true' }));
    const { got, calls } = await tenBroadcastsInOneTick(gw, 'u-survivor');
    expect(got).toEqual([...Array(10).keys()]);
    expect(calls).toEqual([10]); // socket.io's path: ten writes
  });
});

describe('a broadcast to more sockets than one turn of the event loop writes', () => {
  it('leaves the rest for the next turn: a broadcast arriving in between joins their batches, in order, one write each', async () => {
    const gw = await startGateway({ FAST_BROADCAST: 'true' });
    const nsp = gw.io.of('/') as any;
    const clients: Awaited<ReturnType<typeof connectV4>>[] = [];
    for (let i = 0; i < 100; i += 50) {
      clients.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => connectV4(urlOf(gw), token({ sub: `u-slice-${i + j}` }))))));
    }
    // Joined in this order: the room's iteration order, and so the order the batches are written in.
    for (const c of clients) nsp.sockets.get(c.id).join('room:slices');
    const firstWrites = writeCalls(nsp.sockets.get(clients[0].id));
    const lastWrites = writeCalls(nsp.sockets.get(clients[clients.length - 1].id));
    const got = clients.map(() => [] as string[]);
    clients.forEach((c, i) => c.on('seq', (m: { n: string }) => (got[i].push(m.n), progress.notify())));

    // B is queued for the check phase before the first slice of A is written (at the end of this
    // tick); the second slice is queued after it, so B reaches the sockets A has not been written to yet.
    setImmediate(() => nsp.to('room:slices').emit('seq', { n: 'B' }));
    nsp.to('room:slices').emit('seq', { n: 'A' });
    await progress.until(() => got.every((g) => g.length >= 2), 10_000, 'A and B everywhere');

    expect(got.every((g) => g.join() === 'A,B')).toBe(true);
    expect(firstWrites).toEqual([1, 1]); // in the first slice: A alone, then B
    expect(lastWrites).toEqual([2]); // after the first slice: A and B in one write
  });

  it('writes what is pending for a connection before the server closes it', async () => {
    const gw = await startGateway({ FAST_BROADCAST: 'true' });
    const nsp = gw.io.of('/') as any;
    const clients = await Promise.all(Array.from({ length: 40 }, (_, i) => connectV4(urlOf(gw), token({ sub: `u-close-${i}` }))));
    for (const c of clients) nsp.sockets.get(c.id).join('room:closing');
    const last = clients[clients.length - 1];
    const seen: string[] = [];
    last.on('seq', (m: { n: string }) => (seen.push(m.n), progress.notify()));
    last.on('disconnect', (reason: string) => (seen.push(reason), progress.notify()));

    nsp.to('room:closing').emit('seq', { n: 'last words' });
    nsp.sockets.get(last.id).disconnect(true); // the same tick: its batch has not been written yet
    await progress.until(() => seen.length >= 2, 5000, 'the message and the disconnect');
    expect(seen).toEqual(['last words', 'io server disconnect']);
  });
});

/**
 * A plain Socket.IO server (websocket only) on a free port that asked for the fast path, and one
 * client connected to it (its CONNECT packet written): for what the gateway's own server never is.
 */
async function bareServerWithClient(options: Partial<ServerOptions>, logger: winston.Logger) {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], ...options });
  const disable = enableFastBroadcast(io, { dropVolatile: () => false, backedUp: () => undefined, logger });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const connected = new Promise<import('socket.io').Socket>((resolve) => io.on('connection', resolve));
  const client = ioV4(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, { transports: ['websocket'], forceNew: true });
  const server = await connected;
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  const close = async () => {
    client.close();
    disable();
    await new Promise<void>((resolve) => io.close(() => resolve()));
  };
  return { io, server, client, close };
}

describe('installed engine.io, ws or socket.io-adapter internals not as expected', () => {
  it("make the server warn at start-up, name what is missing, and keep socket.io's own path", async () => {
    const proto = Adapter.prototype as unknown as { _encode: unknown };
    const encode = proto._encode;
    const warnings: unknown[][] = [];
    const logger = winston.createLogger({ silent: true });
    logger.warn = ((...args: unknown[]) => (warnings.push(args), logger)) as never;
    proto._encode = undefined; // only while the server starts: the check runs then
    let started: ReturnType<typeof bareServerWithClient>;
    try {
      started = bareServerWithClient({}, logger);
    } finally {
      proto._encode = encode;
    }
    const { server, client, close } = await started;
    try {
      expect(warnings).toHaveLength(1);
      expect(warnings[0][0]).toMatch(/^FAST_BROADCAST: .*keeping socket.io's own broadcast path/);
      expect(warnings[0][1]).toEqual({ problems: ['socket.io-adapter: Adapter.prototype._encode is missing'] });
      server.join('plain');
      const calls = writeCalls(server);
      const got: number[] = [];
      client.on('seq', (m: { n: number }) => (got.push(m.n), progress.notify()));
      for (let n = 0; n < 10; n++) server.nsp.to('plain').emit('seq', { n });
      await progress.until(() => got.length >= 10, 5000, '10 seq').catch(() => undefined);
      expect(got).toEqual([...Array(10).keys()]);
      expect(calls).toHaveLength(10); // socket.io's path: a write per broadcast, none batched
    } finally {
      await close();
    }
  });
});

describe('a server that negotiates permessage-deflate', () => {
  it('never writes a broadcast ahead of a message ws is still compressing', async () => {
    // The gateway never deflates; a server that does keeps its Socket.IO clients on socket.io's path.
    const { io, server, client, close } = await bareServerWithClient({ perMessageDeflate: { threshold: 0 } }, winston.createLogger({ silent: true }));
    try {
      server.join('deflating');
      const got: string[] = [];
      client.on('m', (m: string) => (got.push(m.slice(0, 12)), progress.notify()));
      const expected: string[] = [];
      for (let i = 0; i < 5; i++) {
        // Each round starts with nothing queued anywhere (the last one was received). The direct
        // emit goes straight to ws, which compresses it off the event loop; the broadcast right
        // behind it finds Engine.IO's buffer empty and must still wait for it.
        server.emit('m', `direct ${String(i).padStart(5)}${'x'.repeat(20_000)}`);
        io.to('deflating').emit('m', `room   ${String(i).padStart(5)}`);
        expected.push(`direct ${String(i).padStart(5)}`, `room   ${String(i).padStart(5)}`);
        await progress.until(() => got.length >= expected.length, 5000, `round ${i}`);
      }
      expect(got).toEqual(expected);
    } finally {
      await close();
    }
  });
});
