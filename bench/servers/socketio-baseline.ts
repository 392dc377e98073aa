import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createVerifier } from 'fast-jwt';
import { Server } from 'socket.io';
import { answerStatsRequests, listenAddress } from './ipc-stats';

/**
 * Baseline 1: bare socket.io (the gateway's own socket.io package), websocket transport only, no
 * auth, no middleware. The listeners are what a room fan-out needs: join a room (acked) and relay
 * a message with `io.to(room).emit`, the sender included; plus an acked broadcast for scenario 6.
 *
 * With BASELINE_JWT_SECRET set (the connect scenario's "socketio + jwt"), one middleware verifies
 * the handshake's `auth.token` (HS256, fast-jwt as in the gateway) and keeps its subject: what a
 * team's own socket.io server with token auth pays per connect, nothing else of the gateway.
 */
interface Payload {
  room_id?: unknown;
}

const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false });
const jwtSecret = process.env.BASELINE_JWT_SECRET;
if (jwtSecret) {
  const verify = createVerifier({ key: jwtSecret, algorithms: ['HS256'] });
  io.use((socket, next) => {
    try {
      const claims = verify(String((socket.handshake.auth as { token?: unknown }).token ?? '')) as { sub?: unknown };
      if (typeof claims.sub !== 'string') throw new Error('no subject');
      socket.data.userId = claims.sub;
      next();
    } catch {
      next(new Error('unauthorized'));
    }
  });
}
io.on('connection', (socket) => {
  socket.on('join_room', (p: Payload, ack?: (r: unknown) => void) => {
    if (typeof p?.room_id === 'string') socket.join(p.room_id);
    ack?.({ ok: true });
  });
  socket.on('message', (p: Payload) => {
    if (typeof p?.room_id === 'string') io.to(p.room_id).emit('message', p);
  });
  // Scenario 6's Socket.IO path: what a cell update is without the cell store (broadcast + ack).
  socket.on('cell_update', (p: Record<string, unknown>, ack?: (r: unknown) => void) => {
    const version = (typeof p?.version === 'number' ? p.version : 0) + 1;
    io.to([...socket.rooms]).emit('cell_updated', { ...p, version });
    ack?.({ ok: true, version });
  });
});

answerStatsRequests();
const { port, host } = listenAddress();
http.listen(port, host, () => {
  process.send?.({ type: 'ready', port: (http.address() as AddressInfo).port });
});
