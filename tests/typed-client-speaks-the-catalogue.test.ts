import { connectGateway, type GatewayClient } from '../clients';
import { cleanUpAfterEach } from './support/lifecycle';
import { startGateway, urlOf } from './support/gateway';
import { token } from './support/tokens';

cleanUpAfterEach();

describe('the typed client of clients/', () => {
  let client: GatewayClient | undefined;
  afterEach(() => client?.close());

  it('connects to a feature namespace and exchanges catalogue messages', async () => {
    const gw = await startGateway();
    client = connectGateway(urlOf(gw), { token: token({ sub: 'typed', name: 'Typed' }), namespace: '/workspace', reconnection: false });
    await new Promise<void>((resolve, reject) => {
      client!.once('connect', resolve);
      client!.once('connect_error', reject);
    });
    const state = new Promise<{ total_users: number; room_id: string }>((resolve) => client!.once('room_state', resolve));
    const ack = await client.emitWithAck('join_room', { room_id: 'typed-room' });
    expect(ack).toEqual({ ok: true, room_id: 'typed-room' });
    expect(await state).toMatchObject({ room_id: 'typed-room', total_users: 1 });
  });
});
