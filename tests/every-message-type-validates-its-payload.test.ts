import { clientMessages } from '../shared/catalogue';
import { closeClients, connectV4, request } from './support/clients';
import { startGateway, stopGateways, urlOf } from './support/gateway';
import { token } from './support/tokens';

afterAll(async () => {
  closeClients();
  await stopGateways();
});

const types = Object.keys(clientMessages);

describe('every message type in the catalogue', () => {
  let socket: Awaited<ReturnType<typeof connectV4>>;
  beforeAll(async () => {
    const gw = await startGateway();
    socket = await connectV4(urlOf(gw), token({ sub: 'fuzzy' }));
  });

  it.each(types)('%s: a payload of the wrong shape gets INVALID_MESSAGE and the connection stays up', async (type) => {
    for (const bad of [42, 'text', [1, 2], { version: 'one', room: 7, room_id: 7, sessionId: 7, content: 7, sheet_id: 7 }]) {
      const answer = await request(socket, type, bad);
      expect(answer.ok).toBe(false);
      expect(answer.error.code).toBe('INVALID_MESSAGE');
      expect(answer.error.issues.length).toBeGreaterThan(0);
    }
    expect(socket.connected).toBe(true);
  });
});
