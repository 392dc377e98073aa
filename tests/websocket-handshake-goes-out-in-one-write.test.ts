import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { Gateway } from '../server/gateway';
import { closeClients, connectV4, request } from './support/clients';
import { startGateway, stopGateways } from './support/gateway';
import { token } from './support/tokens';

afterEach(closeClients);
afterAll(stopGateways);

let gw: Gateway;
/** Every write the server made on each TCP connection (by the client's port), one entry a write call. */
const writes = new Map<number, string[]>();
beforeAll(async () => {
  gw = await startGateway();
  gw.httpServer.prependListener('connection', (tcp: Socket) => spyOnWrites(tcp, writes));
});

/** Records what each `_write` / `_writev` of `tcp` carries: each is one write system call. */
function spyOnWrites(tcp: Socket, into: Map<number, string[]>): void {
  const calls: string[] = [];
  into.set(tcp.remotePort!, calls);
  const target = tcp as unknown as Record<'_write' | '_writev', (...args: any[]) => void>;
  const text = (chunk: Buffer | string) => (typeof chunk === 'string' ? chunk : chunk.toString('latin1'));
  const write = target._write.bind(tcp);
  const writev = target._writev.bind(tcp);
  target._write = (chunk: Buffer | string, encoding: BufferEncoding, cb: () => void) => (calls.push(text(chunk)), write(chunk, encoding, cb));
  target._writev = (chunks: Array<{ chunk: Buffer | string }>, cb: () => void) => (calls.push(chunks.map((c) => text(c.chunk)).join('')), writev(chunks, cb));
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** A raw TCP client that sends one upgrade request and collects each `data` chunk it receives. */
async function upgrade(path: string, headers: Record<string, string> = {}): Promise<{ socket: Socket; chunks: Buffer[]; ended: Promise<unknown> }> {
  const socket = connect(gw.port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = once(socket, 'close');
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${gw.port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${KEY}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  return { socket, chunks, ended };
}

/** Resolves once `test` holds for the chunks received so far. */
async function until(socket: Socket, chunks: Buffer[], test: (all: Buffer) => boolean): Promise<Buffer> {
  while (!test(Buffer.concat(chunks))) await once(socket, 'data');
  return Buffer.concat(chunks);
}

describe('a WebSocket handshake', () => {
  it('sends the 101 and the Engine.IO open packet with one write', async () => {
    const { socket, chunks } = await upgrade('/socket.io/?EIO=4&transport=websocket');
    try {
      const all = await until(socket, chunks, (b) => b.includes('0{"sid"'));
      expect(all.toString('latin1')).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
      // The server's first write on the connection carries both, and it is all it wrote.
      const calls = writes.get(socket.localPort!)!;
      expect(calls).toHaveLength(1);
      expect(calls[0]).toBe(all.toString('latin1'));
      const frame = all.subarray(all.indexOf('\r\n\r\n') + 4);
      expect(frame[0]).toBe(0x81); // FIN + text
      const open = JSON.parse(frame.subarray(2, 2 + (frame[1] & 0x7f)).toString('utf8').slice(1)) as Record<string, unknown>;
      expect(open).toEqual(expect.objectContaining({ sid: expect.any(String), upgrades: [], pingInterval: expect.any(Number) }));
    } finally {
      socket.destroy();
    }
  });

  it('still answers an upgrade that ws refuses, and closes it', async () => {
    const { socket, chunks, ended } = await upgrade('/socket.io/?EIO=4&transport=websocket', { 'Sec-WebSocket-Version': '7' });
    const all = await until(socket, chunks, (b) => b.includes('\r\n\r\n'));
    expect(all.toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
    await ended;
  });

  it('still answers an upgrade that Engine.IO refuses, and closes it', async () => {
    const { socket, chunks, ended } = await upgrade('/socket.io/?EIO=4&transport=websocket&sid=no-such-session');
    const all = await until(socket, chunks, (b) => b.includes('\r\n\r\n'));
    expect(all.toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
    await ended;
  });

  it('leaves Socket.IO clients working as before, on WebSocket and after upgrading from polling', async () => {
    const direct = await connectV4(`http://127.0.0.1:${gw.port}`, token({ sub: 'u-direct' }));
    const upgraded = await connectV4(`http://127.0.0.1:${gw.port}`, token({ sub: 'u-upgraded' }), { transports: ['polling', 'websocket'] });
    if (upgraded.io.engine.transport.name !== 'websocket') await new Promise((resolve) => upgraded.io.engine.once('upgrade', resolve));
    expect(direct.io.engine.transport.name).toBe('websocket');
    expect(upgraded.io.engine.transport.name).toBe('websocket');
    for (const socket of [direct, upgraded]) expect(await request(socket, 'join_room', { room_id: 'handshake' })).toMatchObject({ ok: true });
  });
});
