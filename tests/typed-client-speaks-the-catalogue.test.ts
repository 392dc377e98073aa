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

    // Acks are typed by the catalogue's `ack` declaration: these field accesses are checked by tsc.
    const update = await client.emitWithAck('cell_update', { sheet_id: 'sheet', cell_id: 'A1', value: 'x' });
    if (!update.ok) throw new Error(`refused: ${update.error.code}`);
    const version: number = update.version;
    const author: string = update.cell.user_id;
    expect({ version, author }).toEqual({ version: 1, author: 'typed' });
    const stale = await client.emitWithAck('cell_update', { sheet_id: 'sheet', cell_id: 'A1', value: 'y', version: 0 });
    expect(stale.ok ? null : stale.error.code).toBe('VERSION_CONFLICT');
  });
});
