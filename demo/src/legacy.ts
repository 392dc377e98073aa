export {};

// The demo's legacy page: socket.io-client v2's own browser build (loaded before this script as the
// global `io`), as an old application would use it: token in the query, events by name. It joins the
// demo room on /workspace and lists every cell edit it sees.
declare const io: (url: string, options: Record<string, unknown>) => {
  on(event: string, listener: (...args: any[]) => void): void;
  emit(event: string, payload: unknown, ack?: (response: any) => void): void;
};

const params = new URLSearchParams(location.search);
const room = params.get('room') || 'demo';
const token = params.get('token') || '';
const status = document.getElementById('status')!;
const edits = document.getElementById('edits')!;

const socket = io(`${location.origin}/workspace`, { query: { token }, transports: ['websocket'] });
socket.on('connect', () => {
  socket.emit('join_room', { room_id: room }, (ack: { ok: boolean }) => {
    status.textContent = ack.ok ? `connected (v2), in room ${room}` : 'join refused';
    status.dataset.state = ack.ok ? 'connected' : 'disconnected';
  });
});
socket.on('disconnect', () => {
  status.textContent = 'disconnected';
  status.dataset.state = 'disconnected';
});
socket.on('cell_updated', (cell: { cell_id: string; value: unknown; version: number; username: string }) => {
  const li = document.createElement('li');
  li.dataset.cell = cell.cell_id;
  li.dataset.value = String(cell.value);
  li.textContent = `${cell.cell_id} = ${String(cell.value)} (v${cell.version}, ${cell.username})`;
  edits.append(li);
});
