import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { answerStatsRequests, listenAddress } from './ipc-stats';

/**
 * Baseline 2: a raw `ws` broadcast server, the practical ceiling of Node. A client names its room
 * in the URL (`/?room=r`); every frame a client sends goes unchanged to every member of its room,
 * the sender included. No parsing, no protocol on top.
 */
const rooms = new Map<string, Set<WebSocket>>();
const http = createServer();
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });

wss.on('connection', (ws, req) => {
  const room = new URL(req.url ?? '/', 'http://x').searchParams.get('room') ?? 'default';
  let members = rooms.get(room);
  if (!members) rooms.set(room, (members = new Set()));
  members.add(ws);
  const set = members;
  ws.on('message', (data: RawData, isBinary: boolean) => {
    for (const peer of set) peer.send(data as Buffer, { binary: isBinary });
  });
  ws.on('close', () => {
    set.delete(ws);
    if (set.size === 0) rooms.delete(room);
  });
});

answerStatsRequests();
const { port, host } = listenAddress();
http.listen(port, host, () => {
  process.send?.({ type: 'ready', port: (http.address() as AddressInfo).port });
});
