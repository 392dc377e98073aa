import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { clientMessages } from '../shared/catalogue';
import { ErrorCodes, GatewayError } from '../shared/errors';
import { PodActivity } from '../server/cluster/activity';
import { loadConfig } from '../server/config';
import { Dispatcher } from '../server/dispatch';
import type { Call } from '../server/handlers/context';
import { createLogger } from '../server/logger';
import type { CallOutcome } from '../server/pipeline';
import type { GatewayServer } from '../server/types';
import { connectV4, request } from './support/clients';
import { testEnv } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';

cleanUpAfterEach();

const config = loadConfig(testEnv());
const logger = createLogger(config);

/**
 * A real Socket.IO server with only the pipeline installed (no features): the handlers are the
 * test's own, so that what the pipeline promises (order, guards, observers, abort, drain) can be
 * watched in isolation.
 */
async function pipelineServer(setup: (d: Dispatcher) => void): Promise<{ url: string; io: GatewayServer; dispatcher: Dispatcher; http: HttpServer }> {
  const http = createServer();
  const io: GatewayServer = new Server(http, { transports: ['websocket'] });
  const dispatcher = new Dispatcher(config, logger, new PodActivity());
  io.use((socket, next) => {
    socket.data.principal = { userId: 'u', username: 'u', roles: [], roomPatterns: null };
    next();
  });
  dispatcher.attach(io.of('/'));
  setup(dispatcher);
  for (const type of Object.keys(clientMessages)) {
    try {
      dispatcher.handle(type, () => undefined);
    } catch {
      // registered by setup
    }
  }
  dispatcher.verify();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  servers.add({ io, http });
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, io, dispatcher, http };
}

const servers = new Set<{ io: GatewayServer; http: HttpServer }>();
afterEach(async () => {
  for (const { io } of servers) io.close();
  servers.clear();
});

describe('the message pipeline', () => {
  it('refuses to start when a catalogue type has no handler', () => {
    const dispatcher = new Dispatcher(config, logger, new PodActivity());
    dispatcher.handle('join_room', () => undefined);
    expect(() => dispatcher.verify()).toThrow(/leave_room: no handler/);
    expect(() => dispatcher.handle('join_room', () => undefined)).toThrow(/two handlers/);
    expect(() => dispatcher.handle('no_such_type', () => undefined)).toThrow(/no catalogue entry/);
  });

  it('runs guards in order before the handler, keeps a socket’s messages in order behind an asynchronous guard, and lets observers see every outcome', async () => {
    const outcomes: CallOutcome[] = [];
    const handled: string[] = [];
    const { url } = await pipelineServer((d) => {
      d.observe({ onOutcome: (o) => outcomes.push(o) });
      d.guard({ name: 'slow', check: ({ rate }) => (rate === 'request' ? new Promise((r) => setTimeout(r, 20)) : undefined) });
      d.guard({
        name: 'no-room-x',
        check: ({ socket, type }) => {
          if (type === 'leave_room' && socket.connected) throw new GatewayError(ErrorCodes.RATE_LIMIT_EXCEEDED, 'no', { retry_after_ms: 5 });
        },
      });
      d.handle('join_room', (({ room_id }: { room_id: string }) => {
        handled.push(`join ${room_id}`);
        return { room_id };
      }) as never);
      d.handle('cursor_move', (({ x }: { x: number }) => void handled.push(`cursor ${x}`)) as never);
    });
    const client = await connectV4(url, 'unused');
    client.emit('join_room', { room_id: 'a' });
    client.emit('cursor_move', { room: 'a', x: 1, y: 0 });
    client.emit('join_room', { room_id: 'b' });
    expect(await request(client, 'join_room', { room_id: 'c' })).toEqual({ ok: true, room_id: 'c' });
    // The cursor move (no asynchronous guard) still waited for the join before it.
    expect(handled).toEqual(['join a', 'cursor 1', 'join b', 'join c']);

    expect(await request(client, 'leave_room', { room_id: 'a' })).toEqual({ ok: false, error: { code: 'RATE_LIMIT_EXCEEDED', message: 'no', retry_after_ms: 5 } });
    expect((await request(client, 'join_room', { room_id: 42 })).error.code).toBe('INVALID_MESSAGE');
    expect((await request(client, 'nope', {})).error.code).toBe('UNKNOWN_MESSAGE_TYPE');
    const stages = outcomes.map((o) => [o.type, o.stage, o.code ?? 'ok', o.guard ?? '-']);
    expect(stages).toEqual([
      ['join_room', 'handler', 'ok', '-'],
      ['cursor_move', 'handler', 'ok', '-'],
      ['join_room', 'handler', 'ok', '-'],
      ['join_room', 'handler', 'ok', '-'],
      ['leave_room', 'guard', 'RATE_LIMIT_EXCEEDED', 'no-room-x'],
      ['join_room', 'schema', 'INVALID_MESSAGE', '-'],
      ['unknown', 'route', 'UNKNOWN_MESSAGE_TYPE', '-'],
    ]);
    expect(outcomes[0].seconds).toBeGreaterThanOrEqual(0);
    expect(outcomes[0].rate).toBe('request');
  });

  it('drops a throttled stream message a guard refuses, silently', async () => {
    const outcomes: CallOutcome[] = [];
    const { url } = await pipelineServer((d) => {
      d.observe({ onOutcome: (o) => outcomes.push(o) });
      d.guard({
        name: 'stream-budget',
        check: ({ rate }) => {
          if (rate === 'stream') throw new GatewayError(ErrorCodes.RATE_LIMIT_EXCEEDED, 'over');
        },
      });
    });
    const client = await connectV4(url, 'unused');
    const errors: unknown[] = [];
    client.on('error', (e) => errors.push(e));
    client.emit('cursor_move', { room: 'r', x: 0, y: 0 });
    await request(client, 'join_room', { room_id: 'r' });
    expect(errors).toEqual([]);
    expect(outcomes[0]).toMatchObject({ type: 'cursor_move', stage: 'guard', dropped: true, code: 'RATE_LIMIT_EXCEEDED' });
  });

  it("aborts a handler's signal when its caller disconnects", async () => {
    let started: (call: Call) => void = () => undefined;
    const running = new Promise<Call>((resolve) => (started = resolve));
    const { url } = await pipelineServer((d) =>
      d.handle('calculate', ((_payload: unknown, call: Call) => {
        started(call);
        return new Promise((resolve) => call.signal.addEventListener('abort', () => resolve({ result: null })));
      }) as never),
    );
    const client = await connectV4(url, 'unused');
    client.emit('calculate', { chart_id: 'c', calculation_type: 'positions' }, () => undefined);
    const call = await running;
    expect(call.signal.aborted).toBe(false);
    const aborted = new Promise((resolve) => call.signal.addEventListener('abort', () => resolve(call.signal.reason)));
    client.close();
    const reason = await aborted;
    expect(reason).toBeInstanceOf(GatewayError);
    expect((reason as GatewayError).message).toBe('Caller disconnected');
  });

  it('on shutdown lets calls in flight answer their callers, refuses new ones, and aborts what outlives the drain', async () => {
    let release: () => void = () => undefined;
    let calculating: () => void = () => undefined;
    const bothRunning = Promise.all([new Promise<void>((r) => (release = r)), new Promise<void>((r) => (calculating = r))]);
    let finish: () => void = () => undefined;
    const { url, dispatcher } = await pipelineServer((d) => {
      d.handle('cell_update', (() => {
        const done = new Promise((resolve) => (finish = () => resolve({ version: 7, cell: null })));
        release();
        return done;
      }) as never);
      d.handle('calculate', ((_p: unknown, call: Call) => {
        calculating();
        return new Promise((_resolve, reject) => call.signal.addEventListener('abort', () => reject(call.signal.reason)));
      }) as never);
    });
    const client = await connectV4(url, 'unused');
    const answered = request(client, 'cell_update', { sheet_id: 's', cell_id: 'A1', value: 1 });
    const abandoned = request(client, 'calculate', { chart_id: 'c', calculation_type: 'positions' });
    await bothRunning;
    // A drain long enough for the round trips below on a busy machine (the held call is released
    // after one of them); the calculate that never ends holds it to the end.
    const draining = dispatcher.drainCalls(2000);
    // New messages are refused while draining.
    expect((await request(client, 'join_room', { room_id: 'late' })).error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    finish();
    expect(await answered).toEqual({ ok: true, version: 7, cell: null });
    await draining;
    expect((await abandoned).error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', message: 'Server shutting down' });
  });
});

