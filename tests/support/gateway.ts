import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../server/config';
import { createGateway, type Gateway } from '../../server/gateway';
import { createLogger } from '../../server/logger';
import { TEST_SECRET } from './tokens';

/**
 * Rate limits and caps far above what a functional test sends: the tests of a feature exercise the
 * feature, and the tests of the limits (rate-limits-*.test.ts) set the numbers they check.
 */
export const GENEROUS_LIMITS: Readonly<Record<string, string>> = {
  WEBSOCKET_REQUESTS_PER_MINUTE: '1000000',
  WEBSOCKET_REQUESTS_PER_HOUR: '10000000',
  CONNECTION_REQUESTS_PER_MINUTE: '1000000',
  STREAM_MESSAGES_PER_SECOND: '1000000',
  CONTROL_MESSAGES_PER_MINUTE: '1000000',
  ROOM_BROADCASTS_PER_MINUTE: '1000000',
  WEBSOCKET_MAX_CONNECTIONS_PER_USER: '10000',
};

/** Environment for a test gateway: port 0, quiet logs, the test secret, fast presence timers. */
export function testEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    ...GENEROUS_LIMITS,
    PORT: '0',
    HOST: '127.0.0.1',
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    JWT_SECRET: TEST_SECRET,
    PRESENCE_HEARTBEAT_MS: '500',
    PRESENCE_TTL_MS: '2000',
    // Outside the checkout: a test that does not care about uploads still starts the disk store.
    UPLOAD_DIR: join(tmpdir(), 'rg-test-uploads'),
    // CI runs the suite once more with FAST_BROADCAST=false (socket.io's own broadcast path).
    FAST_BROADCAST: process.env.FAST_BROADCAST,
    ...overrides,
  };
}

const running = new Set<Gateway>();

/** Starts a gateway in this process; `stopGateways()` (in afterEach/afterAll) stops every one. */
export async function startGateway(overrides: Record<string, string | undefined> = {}): Promise<Gateway> {
  const config: Config = loadConfig(testEnv(overrides));
  const gateway = await createGateway(config, { logger: createLogger(config) });
  running.add(gateway);
  return gateway;
}

export async function stopGateway(gateway: Gateway): Promise<void> {
  running.delete(gateway);
  await gateway.close();
}

export async function stopGateways(): Promise<void> {
  await Promise.all([...running].map(stopGateway));
}

export const urlOf = (gateway: Gateway | number, path = ''): string =>
  `http://127.0.0.1:${typeof gateway === 'number' ? gateway : gateway.port}${path}`;

/** How many whole WebSocket frames (server frames: unmasked) `bytes` holds, one after another. */
function framesIn(bytes: Buffer): number {
  let frames = 0;
  for (let at = 0; at + 2 <= bytes.length; frames++) {
    const short = bytes[at + 1] & 0x7f;
    const header = short === 126 ? 4 : short === 127 ? 10 : 2;
    const length = short === 126 ? bytes.readUInt16BE(at + 2) : short === 127 ? Number(bytes.readBigUInt64BE(at + 2)) : short;
    at += header + length;
  }
  return frames;
}

/**
 * Calls `record` with the bytes of each write system call a server-side TCP socket makes: each
 * `_write` or `_writev`, whether it carries one buffer or several (ws writes a frame's header and
 * payload as two; a string chunk, such as ws's 101 response, is taken in its own encoding).
 */
export function onTcpWrites(tcp: unknown, record: (bytes: Buffer) => void): void {
  const target = tcp as Record<'_write' | '_writev', (...args: any[]) => void>;
  const write = target._write.bind(tcp);
  const writev = target._writev.bind(tcp);
  const bytes = (chunk: Buffer | string, encoding: string) => (typeof chunk === 'string' ? Buffer.from(chunk, encoding as BufferEncoding) : chunk);
  target._writev = (chunks: Array<{ chunk: Buffer | string; encoding: string }>, cb: () => void) => (
    record(Buffer.concat(chunks.map((c) => bytes(c.chunk, c.encoding)))), writev(chunks, cb)
  );
  target._write = (chunk: Buffer | string, encoding: string, cb: () => void) => (record(bytes(chunk, encoding)), write(chunk, encoding, cb));
}

/**
 * Spies on the TCP writes of a server-side Socket.IO socket on the WebSocket transport: each entry
 * is one write system call, with how many WebSocket frames it carried.
 */
export function writeCalls(serverSocket: unknown): number[] {
  const tcp = (serverSocket as { conn: { transport: { socket: { _socket: unknown } } } }).conn.transport.socket._socket;
  const calls: number[] = [];
  onTcpWrites(tcp, (bytes) => calls.push(framesIn(bytes)));
  return calls;
}
