import { GatewayError, SocketClient } from '../clients/src';
import { cleanUpAfterEach } from './support/lifecycle';
import { startGateway, urlOf } from './support/gateway';
import { token } from './support/tokens';

cleanUpAfterEach();

describe('the typed client of clients/', () => {
  let client: SocketClient | undefined;
  afterEach(() => client?.close());

  it('connects to a feature namespace and exchanges catalogue messages', async () => {
    const gw = await startGateway();
    client = new SocketClient({ url: urlOf(gw), token: token({ sub: 'typed', name: 'Typed' }), namespace: '/workspace', maxReconnectAttempts: 0 });
    await client.ready();
    const state = new Promise<{ total_users: number; room_id: string }>((resolve) => client!.once('room_state', resolve));
    expect(await client.request('join_room', { room_id: 'typed-room' })).toEqual({ room_id: 'typed-room' });
    expect(await state).toMatchObject({ room_id: 'typed-room', total_users: 1 });

    // Acks are typed by the catalogue's `ack` declaration: these field accesses are checked by tsc.
    const update = await client.request('cell_update', { sheet_id: 'sheet', cell_id: 'A1', value: 'x' });
    const version: number = update.version;
    const author: string = update.cell.user_id;
    expect({ version, author }).toEqual({ version: 1, author: 'typed' });
    const stale = await client.request('cell_update', { sheet_id: 'sheet', cell_id: 'A1', value: 'y', version: 0 }).catch((err: unknown) => err);
    expect(stale).toBeInstanceOf(GatewayError);
    expect((stale as GatewayError).code).toBe('VERSION_CONFLICT');
  });
});
