// A flooding client in a process of its own, so its send loop never shares the event loop of the
// clients whose latency a test measures. Usage: node flooder.js <url> <token> <frames>
// Sends `frames` cell_update messages as fast as the socket takes them, then prints one JSON line
// {sent, served, refused, disconnect} once the server cut it off or everything was sent.
const { io } = require('socket.io-client');

const [url, token, frames] = process.argv.slice(2);
const total = Number(frames);
const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
const result = { sent: 0, served: 0, refused: 0, disconnect: null };
const finish = () => {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
};
socket.on('cell_updated', () => result.served++);
socket.on('error', (e) => {
  if (e && e.code === 'RATE_LIMIT_EXCEEDED') result.refused++;
});
socket.on('disconnect', (reason) => {
  result.disconnect = reason;
  setTimeout(finish, 50);
});
socket.on('connect_error', (err) => {
  result.disconnect = `connect_error: ${err.message}`;
  finish();
});
socket.on('connect', async () => {
  while (result.sent < total && socket.connected) {
    for (let i = 0; i < 250 && result.sent < total; i++) {
      result.sent++;
      socket.emit('cell_update', { sheet_id: 'flood', cell_id: `F${result.sent}`, value: result.sent });
    }
    await new Promise((r) => setImmediate(r));
  }
});
setTimeout(finish, 20_000).unref();
