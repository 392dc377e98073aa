import { createServer } from 'node:http';
import { instrument } from '@socket.io/admin-ui';
import { Server } from 'socket.io';
import { cheapEngineStats } from '../server/admin-ui/engine-stats';

// @socket.io/admin-ui starts a two-second stats emitter it never stops; a closed pod must not keep it.
describe("the admin UI's stats emitter", () => {
  afterEach(() => jest.useRealTimers());

  it('sends server_stats every two seconds while the pod runs, and never after it closes', () => {
    jest.useFakeTimers();
    const io = new Server(createServer());
    const stop = cheapEngineStats(io, () => instrument(io, { auth: false, mode: 'production', namespaceName: '/admin' }), () => false);
    const admin = io.of('/admin');
    const emit = jest.spyOn(admin, 'emit');
    const stats = () => emit.mock.calls.filter(([event]) => event === 'server_stats').length;

    jest.advanceTimersByTime(4_000);
    expect(stats()).toBe(2);

    stop();
    jest.advanceTimersByTime(60_000);
    expect(stats()).toBe(2);
    io.close();
  });
});
