import { connectV4, request } from './support/clients';
import { startGateway, stopGateway, urlOf } from './support/gateway';
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
} from './support/native';
import { token } from './support/tokens';

cleanUpAfterEach();
afterEach(() => closeNatives());

describe('graceful shutdown', () => {
  it('closes every native client with 1001, authenticated or not, like it closes Socket.IO transports', async () => {
    const gw = await startGateway();
    const t = (sub: string) => token({ sub });
    const natives = [
      await connectWorkspace(gw, t('w')),
      await connectAgents(gw, t('a')),
      await connectCalculations(gw, t('c')),
      await connectStreaming(gw, t('s')),
      await connectLearning(gw, Endpoints.chat, t('ch'), 'room'),
      await connectLearning(gw, Endpoints.analytics, t('an')),
      await connectLearning(gw, Endpoints.collaboration, t('co')),
      await openNative(wsUrl(gw, Endpoints.streaming)), // not authenticated yet
    ];
    const sio = await connectV4(urlOf(gw), t('sio'));
    await request(sio, 'join_room', { room_id: 'room' });
    const sioReason = new Promise<string>((resolve) => sio.once('disconnect', resolve));

    await stopGateway(gw);
    for (const client of natives) expect(await client.closed).toEqual({ code: 1001, reason: 'Server shutting down' });
    expect(await sioReason).toBe('transport close');
    expect(gw.io.engine.clientsCount).toBe(0);
    await expect(openNative(wsUrl(gw, Endpoints.workspace, { token: t('late') }))).rejects.toThrow(/ECONNREFUSED/);
  });
});
