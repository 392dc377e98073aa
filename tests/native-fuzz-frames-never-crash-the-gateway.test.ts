// A bounded fuzz of every native endpoint: tens of thousands of malformed frames (not JSON, bad
// UTF-8, deep nesting, huge numbers, `__proto__` keys, wrong types, reserved and unknown types,
// binary frames), each of which must be answered by exactly one error frame, plus frames that
// must end in a clean close (over the size limit, invalid UTF-8 text). The gateway must not crash,
// reject a promise unhandled, pollute prototypes or grow its heap. 127.0.0.1 only; fixed seed.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Gateway } from '../server/gateway';
import { startGateway } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import {
  closeNatives,
  connectAgents,
  connectCalculations,
  connectLearning,
  connectStreaming,
  connectWorkspace,
  Endpoints,
  openNative,
  wsUrl,
  type NativeClient,
} from './support/native';
import { token } from './support/tokens';

cleanUpAfterEach();
afterEach(() => closeNatives());

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Envelope = 'flat' | 'payload' | 'data' | 'calculation';
interface Frame {
  data: string | Buffer;
  binary: boolean;
}

const RESERVED = ['disconnect', 'connect', 'connect_error', 'disconnecting', 'newListener', 'removeListener', 'error', '__proto__', 'constructor', 'toString', 'hasOwnProperty'];
/** Known types with a required field and values that field never accepts. */
const KNOWN = [
  { type: 'join_room', field: 'room_id' },
  { type: 'typing_start', field: 'room' },
  { type: 'status_update', field: 'status' },
  { type: 'cell_update', field: 'sheet_id' },
  { type: 'cursor_move', field: 'room' },
  { type: 'subscribe', field: 'type' },
  { type: 'message', field: 'content' },
  { type: 'edit', field: 'operation' },
  { type: 'history', field: 'limit' },
  { type: 'unsubscribe', field: 'subscription_id' },
];

function makeFuzzer(seed: number, envelope: Envelope) {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)];
  const junkText = () => Array.from({ length: 1 + int(40) }, () => String.fromCharCode(32 + int(95))).join('');
  /** Values no field of KNOWN accepts: never a string (those fields want strings, enums or 1..200). */
  const wrongValue = (): string =>
    pick(['null', 'true', 'false', '[]', '[1,[2,[3]]]', '{"nested":{"deep":[1]}}', '{"__proto__":{"polluted":true}}', '-0.5', '12.5', '0', '1e400', '-1e400', '123456789012345678901234567890']);
  /** Values `parameters` (a record) never accepts. */
  const notRecord = (): string => pick(['null', 'true', '[]', '[[[[[]]]]]', '-0.5', '"text"', '1e400', '123456789012345678901234567890']);
  const extras = () =>
    pick(['', ',"__proto__":{"polluted":true}', ',"constructor":{"prototype":{"polluted":true}}', `,"x":${'1'.repeat(400)}`, ',"huge":1e400', `,"${junkText().replace(/["\\]/g, '')}":0`]);

  const wrap = (type: string | null, fieldsJson: string): string => {
    const typeJson = type === null ? '' : `"type":${JSON.stringify(type)},`;
    switch (envelope) {
      case 'flat':
        return `{${typeJson}${fieldsJson.slice(1)}`;
      case 'payload':
        return `{${typeJson}"payload":${fieldsJson},"timestamp":1640995200}`;
      case 'data':
        return `{${typeJson}"data":${fieldsJson}}`;
      case 'calculation':
        return fieldsJson;
    }
  };

  const generators: Array<() => Frame> = [
    // not JSON at all, or cut short
    () => {
      let text = pick(['{', '[', '{"type":', 'nope', '{"a":1,}', "{'type':'x'}", '\u0000', '']) + junkText();
      while (isJson(text)) text = `{${text}`;
      return { data: text, binary: false };
    },
    // binary frames that are not UTF-8
    () => ({ data: Buffer.from([0xff, 0xfe, ...Array.from({ length: int(64) }, () => int(256))]), binary: true }),
    // nesting deeper than the limit
    () => {
      const depth = 33 + int(3000);
      return { data: rand() < 0.5 ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth), binary: rand() < 0.3 };
    },
    // JSON that is not an object (huge numbers included)
    () => ({ data: pick(['1e400', '-1e400', '"type"', 'null', 'true', '[{"type":"ping"}]', '0', '123456789012345678901234567890']), binary: rand() < 0.3 }),
    // a type that is not a non-empty string
    () => ({ data: `{"type":${pick(['1', 'null', '[]', '{}', '""', 'true', '1e400'])}${extras()}}`, binary: false }),
    // unknown and reserved types
    () => {
      const type = rand() < 0.5 ? pick(RESERVED) : `fz_${junkText()}`;
      return { data: envelope === 'calculation' ? `{"type":${JSON.stringify(type)}}` : wrap(type, `{"room_id":"r"${extras()}}`), binary: rand() < 0.2 };
    },
    // known types with a wrong value in a required field, `__proto__` keys and huge numbers around
    () => {
      if (envelope === 'calculation') {
        const fields: Record<string, string> = { chart_id: '"c1"', calculation_type: '"houses"', parameters: '{}' };
        const field = pick(Object.keys(fields));
        fields[field] = field === 'parameters' ? notRecord() : field === 'calculation_type' && rand() < 0.5 ? '"tarot"' : wrongValue();
        return { data: `{"chart_id":${fields.chart_id},"calculation_type":${fields.calculation_type},"parameters":${fields.parameters}${extras()}}`, binary: false };
      }
      const known = pick(KNOWN);
      return { data: wrap(known.type, `{"${known.field}":${wrongValue()}${extras()}}`), binary: rand() < 0.2 };
    },
  ];
  return () => pick(generators)();
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const isErrorFrame = (frame: any) => frame?.type === 'error' || frame?.status === 'error';

/** Sends `count` fuzz frames in batches, each batch answered by as many error frames before the next. */
async function fuzz(client: NativeClient, next: () => Frame, count: number, batch = 250): Promise<void> {
  for (let sent = 0; sent < count; sent += batch) {
    const frames = Array.from({ length: Math.min(batch, count - sent) }, next);
    for (const frame of frames) client.ws.send(frame.data, { binary: frame.binary });
    for (let i = 0; i < frames.length; i++) await client.next(isErrorFrame, 10_000);
    client.received.length = 0; // the log would be the test's own memory growth
  }
  client.send({ type: 'ping' });
  await client.next((f) => f?.type === 'pong');
  expect(client.take(isErrorFrame)).toEqual([]);
}

const ENDPOINTS: Array<{ name: string; envelope: Envelope; connect: (gw: Gateway, sub: string) => Promise<NativeClient>; open: (gw: Gateway, sub: string) => string }> = [
  { name: '/api/v1/ws', envelope: 'flat', connect: (gw, sub) => connectWorkspace(gw, token({ sub })), open: (gw, sub) => wsUrl(gw, Endpoints.workspace, { token: token({ sub }) }) },
  { name: '/ws', envelope: 'payload', connect: (gw, sub) => connectAgents(gw, token({ sub })), open: (gw, sub) => wsUrl(gw, Endpoints.agents, { token: token({ sub }) }) },
  { name: '/api/websockets/ws/{token}', envelope: 'calculation', connect: (gw, sub) => connectCalculations(gw, token({ sub })), open: (gw, sub) => wsUrl(gw, Endpoints.calculations(token({ sub }))) },
  { name: '/api/streaming/ws', envelope: 'data', connect: (gw, sub) => connectStreaming(gw, token({ sub })), open: (gw) => wsUrl(gw, Endpoints.streaming) },
  { name: '/api/chat/ws', envelope: 'data', connect: (gw, sub) => connectLearning(gw, Endpoints.chat, token({ sub })), open: (gw, sub) => wsUrl(gw, Endpoints.chat, { token: token({ sub }) }) },
  { name: '/api/analytics/ws', envelope: 'data', connect: (gw, sub) => connectLearning(gw, Endpoints.analytics, token({ sub })), open: (gw, sub) => wsUrl(gw, Endpoints.analytics, { token: token({ sub }) }) },
  { name: '/api/collaboration/ws', envelope: 'data', connect: (gw, sub) => connectLearning(gw, Endpoints.collaboration, token({ sub })), open: (gw, sub) => wsUrl(gw, Endpoints.collaboration, { token: token({ sub }) }) },
];

describe('fuzzing every native endpoint', () => {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  beforeAll(() => process.on('unhandledRejection', onRejection));
  afterAll(() => process.off('unhandledRejection', onRejection));

  it('answers every malformed frame with one error, keeps the connection, and keeps memory flat', async () => {
    const gw = await startGateway({ NATIVE_HEARTBEAT_MS: '600000' });
    const clients = await Promise.all(ENDPOINTS.map((e, i) => e.connect(gw, `fuzzer-${i}`)));
    const fuzzers = ENDPOINTS.map((e, i) => makeFuzzer(1000 + i, e.envelope));
    const PER_ROUND = 750;

    const round = () => Promise.all(clients.map((client, i) => fuzz(client, fuzzers[i], PER_ROUND)));
    await round(); // warm-up: code paths compiled, caches filled
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let r = 0; r < 4; r++) await round();
    gc();
    const growth = process.memoryUsage().heapUsed - before;
    // 5 rounds x 7 endpoints x 750 frames = 26,250 frames, every one answered.
    expect(growth).toBeLessThan(16 * 1024 * 1024);
    expect(rejections).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(gw.io.engine.clientsCount).toBe(ENDPOINTS.length);
  });

  it('ends oversized and invalid UTF-8 text frames with a clean close, and keeps serving', async () => {
    const gw = await startGateway({ MAX_MESSAGE_BYTES: '4096' });
    for (const [i, endpoint] of ENDPOINTS.entries()) {
      const big = await endpoint.connect(gw, `big-${i}`);
      big.send(`{"type":"x","pad":"${'x'.repeat(5000)}"}`);
      expect(await big.next(isErrorFrame)).toBeDefined();
      expect((await big.closed).code).toBe(1009);

      const huge = await openNative(endpoint.open(gw, `huge-${i}`));
      huge.ws.send(Buffer.alloc((1 << 20) + 1, 0x20), { binary: true });
      expect((await huge.closed).code).toBe(1009);

      const badText = await openNative(endpoint.open(gw, `utf8-${i}`));
      badText.ws.send(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), { binary: false });
      expect((await badText.closed).code).toBe(1007);
    }
    expect(rejections).toEqual([]);
    const after = await ENDPOINTS[0].connect(gw, 'after');
    after.send({ type: 'join_room', room_id: 'still-fine' });
    expect(await after.next('room_state')).toMatchObject({ room_id: 'still-fine' });
  });

  it('answers frames before authentication on first-message endpoints with errors, never dispatching them', async () => {
    const gw = await startGateway();
    for (const path of [Endpoints.streaming, Endpoints.chat]) {
      const client = await openNative(wsUrl(gw, path));
      const next = makeFuzzer(7, 'data');
      await fuzz(client, next, 1000);
      client.send({ type: 'join_room', data: { room_id: 'x' } });
      expect(await client.next(isErrorFrame)).toMatchObject({ data: { code: 'AUTHENTICATION_FAILED' } });
    }
    expect(gw.io.of('/').sockets.size).toBe(0);
    expect(rejections).toEqual([]);
  });
});
