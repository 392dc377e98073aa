import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { answerStatsRequests, listenAddress } from './ipc-stats';

/**
 * Baseline 1: bare socket.io (the gateway's own socket.io package), websocket transport only, no
 * auth, no middleware. The listeners are what a room fan-out needs: join a room (acked) and relay
 * a message with `io.to(room).emit`, the sender included; plus an acked broadcast for scenario 6.
 */
interface Payload {
  room_id?: unknown;
}

const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false });
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
