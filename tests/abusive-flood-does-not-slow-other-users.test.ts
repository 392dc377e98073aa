import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import { connectV4, request } from './support/clients';
import { GENEROUS_LIMITS } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import { PodProcess } from './support/pods';
import { token } from './support/tokens';

cleanUpAfterEach();

/** The seeds' default limits (not the suite's generous ones): the flood meets what production meets. */
const DEFAULT_LIMITS = Object.fromEntries(Object.keys(GENEROUS_LIMITS).map((k) => [k, undefined]));

const USERS = 5;
const ROUND_TRIPS = 10;

/** Each user does ROUND_TRIPS acked cell updates one after the other; returns every latency (ms). */
async function roundTrips(sockets: Socket[], tag: string): Promise<number[]> {
  const latencies: number[] = [];
  await Promise.all(
    sockets.map(async (socket, u) => {
      for (let i = 0; i < ROUND_TRIPS; i++) {
        const started = performance.now();
        const ack = await request(socket, 'cell_update', { sheet_id: `s-${tag}`, cell_id: `U${u}R${i}`, value: i });
        latencies.push(performance.now() - started);
        expect(ack).toMatchObject({ ok: true });
      }
    }),
  );
  return latencies.sort((a, b) => a - b);
}

const p99 = (sorted: number[]) => sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)];

describe('an abusive client', () => {
  it("is refused and cut off without raising the other users' p99", async () => {
    // The gateway in its own process: the test's own flood loop must not share its event loop.
    const pod = await PodProcess.start(DEFAULT_LIMITS);
    const sockets = await Promise.all(Array.from({ length: USERS }, (_, u) => connectV4(pod.url, token({ sub: `calm-${u}` }))));
    await Promise.all(sockets.map((s) => request(s, 'join_room', { room_id: 'shared' })));
    await roundTrips(sockets, 'warm-up');
    const quiet = await roundTrips(sockets, 'quiet');

    // The abuser in a process of its own (tests/support/flooder.js), so its send loop does not
    // delay the measured clients of this process.
    const flooder = spawn(process.execPath, [join(__dirname, 'support', 'flooder.js'), pod.url, token({ sub: 'abuser' }), '5000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    flooder.stdout.on('data', (c: Buffer) => (output += c.toString()));
    const exited = once(flooder, 'exit');
    const flooded = await roundTrips(sockets, 'flooded');
    await exited;
    const { sent, served, refused: refusals, disconnect } = JSON.parse(output) as { sent: number; served: number; refused: number; disconnect: string };
    expect(disconnect).toBe('transport close');

    // Generous bounds: this machine is shared and noisy; the bench reports the real figures.
    const before = p99(quiet);
    const during = p99(flooded);
    expect(during).toBeLessThan(Math.max(250, before * 5));
    // It was served its per-minute budget (WEBSOCKET_REQUESTS_PER_MINUTE, 60) and no more, refused
    // RATE_LIMIT_DISCONNECT_AFTER (100) times and cut off; the rest was never served nor answered.
    expect(served).toBeGreaterThan(0);
    expect(served).toBeLessThanOrEqual(60);
    expect(refusals).toBeGreaterThanOrEqual(100);
    expect(refusals).toBeLessThanOrEqual(110);
    console.log(`flood: ${sent} sent, ${served} served, ${refusals} refused; others' p99 ${before.toFixed(1)} ms quiet, ${during.toFixed(1)} ms during`);
    // The others are still served.
    expect(await request(sockets[0], 'join_room', { room_id: 'after' })).toMatchObject({ ok: true });
  }, 60_000);
});
