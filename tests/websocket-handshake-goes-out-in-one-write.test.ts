import type { Socket } from 'node:net';
import type { Gateway } from '../server/gateway';
import { closeClients, connectV4, request } from './support/clients';
import { onTcpWrites, startGateway, stopGateways } from './support/gateway';
import { rawUpgrade } from './support/raw-upgrade';
import { token } from './support/tokens';

afterEach(closeClients);
afterAll(stopGateways);

let gw: Gateway;
/** What each write call of the server carried, per TCP connection (by the client's port). */
const writes = new Map<number, string[]>();
beforeAll(async () => {
  gw = await startGateway();
  gw.httpServer.prependListener('connection', (tcp: Socket) => {
    const calls: string[] = [];
    writes.set(tcp.remotePort!, calls);
    onTcpWrites(tcp, (bytes) => calls.push(bytes.toString('latin1')));
  });
});

describe('a WebSocket handshake', () => {
  it('sends the 101 and the Engine.IO open packet with one write', async () => {
    const { socket, until } = await rawUpgrade(gw.port, '/socket.io/?EIO=4&transport=websocket');
    try {
      const all = await until((b) => b.includes('0{"sid"'));
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
    const { until, closed } = await rawUpgrade(gw.port, '/socket.io/?EIO=4&transport=websocket', { 'Sec-WebSocket-Version': '7' });
    const all = await until((b) => b.includes('\r\n\r\n'));
    expect(all.toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
    await closed;
  });

  it('still answers an upgrade that Engine.IO refuses, and closes it', async () => {
    const { until, closed } = await rawUpgrade(gw.port, '/socket.io/?EIO=4&transport=websocket&sid=no-such-session');
    const all = await until((b) => b.includes('\r\n\r\n'));
    expect(all.toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
    await closed;
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

describe('an upgrade, with the CORS middleware skipped on upgrades', () => {
  it('is still refused from an origin outside ALLOWED_ORIGINS, and accepted from one inside', async () => {
    const strict = await startGateway({ ALLOWED_ORIGINS: 'https://app.example.com' });
    const path = '/socket.io/?EIO=4&transport=websocket';
    const refused = await rawUpgrade(strict.port, path, { Origin: 'https://elsewhere.example.com' });
    await refused.closed;
    // Engine.IO's refusal of a request its allowRequest turned down.
    expect(Buffer.concat(refused.chunks).toString('latin1')).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[^]*\r\n\r\nForbidden$/);
    const accepted = await rawUpgrade(strict.port, path, { Origin: 'https://app.example.com' });
    try {
      expect((await accepted.until((b) => b.includes('0{"sid"'))).toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    } finally {
      accepted.socket.destroy();
    }
  });
});
