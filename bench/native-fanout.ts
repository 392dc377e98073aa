/**
 * Native fan-out benchmark (issue 4): deliveries per second of a chat message fanned out to a room
 * of 1,000 Socket.IO clients, 1,000 native `/api/v1/ws` clients, and 500 + 500 mixed, measured in
 * the same run against one gateway process (`dist/server/index.js`, as it ships), repetitions
 * interleaved. Run: `npm run build && node dist/bench/native-fanout.js [--size=1000] [--reps=3]`.
 * The load generator uses raw `ws` connections and recognises a delivery by its prefix without
 * parsing JSON, so its own cost is the same for both kinds of client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { freePort } from './lib/procs';
import { BENCH_LIMITS } from './servers/targets';

const SECRET = 'native-fanout-bench-secret-0123456789';
const ENTRY = join(resolve(__dirname, '..', '..'), 'dist', 'server', 'index.js');
const arg = (name: string, def: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);
const SIZE = arg('size', 1000);
const REPS = arg('reps', 3);
const DELIVERIES = arg('deliveries', 200_000);
const WINDOW = Math.max(2, Math.floor(5000 / SIZE));
const PAD = 'x'.repeat(80);

type Kind = 'socketio' | 'native';
const sign = (sub: string) => jwt.sign({ sub, name: sub }, SECRET, { algorithm: 'HS256', expiresIn: 3600 });

async function startGateway(): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(process.execPath, [ENTRY], {
    env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'production', LOG_LEVEL: 'warn', JWT_SECRET: SECRET, ROOM_STATE_INTERVAL_MS: '1000', ...BENCH_LIMITS },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 150; i++) {
    if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)) return { port, proc };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('gateway did not start');
}

/** Reads `@seq=<n>;` out of a frame without parsing it. */
function seqOf(frame: string): number {
  const at = frame.indexOf('@seq=');
  return at < 0 ? -1 : Number(frame.slice(at + 5, frame.indexOf(';', at)));
}

/** A Socket.IO client over raw Engine.IO 4 frames; resolves once it joined `room`. */
function socketIoClient(port: number, sub: string, room: string, onSeq: (seq: number) => void): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    ws.on('error', reject);
    ws.on('message', (data) => {
      const frame = data.toString();
      if (frame.startsWith('42["message",')) onSeq(seqOf(frame));
      else if (frame === '2') ws.send('3');
      else if (frame.startsWith('0{')) ws.send(`40${JSON.stringify({ token: sign(sub) })}`);
      else if (frame.startsWith('40')) ws.send(`421${JSON.stringify(['join_room', { room_id: room }])}`);
      else if (frame.startsWith('431')) resolve(ws);
      else if (frame.startsWith('44')) reject(new Error(frame));
    });
  });
}

/** A native seed 002 client; resolves once its room_state arrived. */
function nativeClient(port: number, sub: string, room: string, onSeq: (seq: number) => void): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/ws?token=${sign(sub)}`, { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    let joined = false;
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'join_room', room_id: room })));
    ws.on('message', (data) => {
      const frame = data.toString();
      if (frame.startsWith('{"type":"message"')) onSeq(seqOf(frame));
      else if (!joined && frame.startsWith('{"type":"room_state"')) {
        joined = true;
        resolve(ws);
      }
    });
  });
}

interface Room {
  name: string;
  receivers: number;
  publisher: WebSocket;
  counts: Map<number, number>;
  onComplete?: (seq: number) => void;
}

async function buildRoom(port: number, name: string, mix: Record<Kind, number>): Promise<Room> {
  const room: Room = { name, receivers: mix.socketio + mix.native, publisher: undefined as unknown as WebSocket, counts: new Map() };
  const onSeq = (seq: number) => {
    const n = (room.counts.get(seq) ?? 0) + 1;
    room.counts.set(seq, n);
    if (n === room.receivers) {
      room.counts.delete(seq);
      room.onComplete?.(seq);
    }
  };
  const kinds: Kind[] = [...Array<Kind>(mix.socketio).fill('socketio'), ...Array<Kind>(mix.native).fill('native')];
  for (let i = 0; i < kinds.length; i += 50) {
    await Promise.all(kinds.slice(i, i + 50).map((kind, j) => (kind === 'native' ? nativeClient : socketIoClient)(port, `${name}-${i + j}`, name, onSeq)));
  }
  room.publisher = await socketIoClient(port, `${name}-publisher`, name, () => undefined);
  return room;
}

/** Publishes `messages` with at most WINDOW unfinished; resolves with deliveries per second. */
function measure(room: Room, messages: number, firstSeq: number): Promise<number> {
  return new Promise((resolve) => {
    let next = firstSeq;
    let done = 0;
    const started = process.hrtime.bigint();
    const publish = () => {
      const payload = { room_id: room.name, content: `@seq=${next++};${PAD}`, messageType: 'text' };
      room.publisher.send(`42${JSON.stringify(['message', payload])}`);
    };
    room.onComplete = () => {
      done++;
      if (done === messages) {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        room.onComplete = undefined;
        resolve((messages * room.receivers) / seconds);
      } else if (next < firstSeq + messages) publish();
    };
    for (let i = 0; i < Math.min(WINDOW, messages); i++) publish();
  });
}

async function main(): Promise<void> {
  const { port, proc } = await startGateway();
  const half = Math.floor(SIZE / 2);
  const scenarios: Array<{ label: string; mix: Record<Kind, number> }> = [
    { label: `${SIZE} Socket.IO`, mix: { socketio: SIZE, native: 0 } },
    { label: `${SIZE} native`, mix: { socketio: 0, native: SIZE } },
    { label: `${half} native + ${SIZE - half} Socket.IO`, mix: { socketio: SIZE - half, native: half } },
  ];
  const rooms: Room[] = [];
  for (const [i, s] of scenarios.entries()) rooms.push(await buildRoom(port, `bench-${i}`, s.mix));
  const messages = Math.max(10, Math.ceil(DELIVERIES / SIZE));
  const results: number[][] = scenarios.map(() => []);
  let seq = 0;
  for (const room of rooms) {
    await measure(room, Math.ceil(messages / 4), seq); // warm-up
    seq += messages;
  }
  for (let rep = 0; rep < REPS; rep++) {
    for (const [i, room] of rooms.entries()) {
      results[i].push(await measure(room, messages, seq));
      seq += messages;
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const baseline = median(results[0]);
  process.stdout.write(`\nfan-out to one room of ${SIZE}, ${messages} messages x ${REPS} reps (median deliveries/s):\n`);
  for (const [i, s] of scenarios.entries()) {
    const m = median(results[i]);
    process.stdout.write(`  ${s.label.padEnd(32)} ${Math.round(m).toString().padStart(9)}/s  ${((m / baseline) * 100).toFixed(1)}% of Socket.IO\n`);
  }
  for (const room of rooms) room.publisher.terminate();
  proc.kill('SIGKILL');
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`native-fanout failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
