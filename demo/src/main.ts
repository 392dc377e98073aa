// The live demo: a small spreadsheet on the gateway's typed Socket.IO client. One client per feature
// namespace (/workspace for presence, cursors, cells and typing; /chat; /ai; /uploads), all on one
// token. Two windows in the same room see each other's cursors, edits, typing and chat.
import { GatewayError, SocketClient } from '../../clients/src/socketio';
import { uploadFile } from './upload';

const params = new URLSearchParams(location.search);
const room = params.get('room') || 'demo';
const sheet = `sheet-${room}`;
const COLUMNS = ['A', 'B', 'C', 'D', 'E', 'F'];
const ROWS = 10;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');

/** A colour per user, the same in every window. */
function colour(userId: string): string {
  let h = 0;
  for (const ch of userId) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return `hsl(${h} 70% 45%)`;
}

async function token(): Promise<string> {
  const given = params.get('token');
  if (given) return given;
  const res = await fetch('token');
  if (!res.ok) throw new Error('No token: open this page with ?token=<a JWT for this gateway>');
  return ((await res.json()) as { token: string }).token;
}

function userOf(jwt: string): { sub: string; name: string } {
  const claims = JSON.parse(atob(jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))) as { sub: string; name?: string };
  return { sub: claims.sub, name: claims.name ?? claims.sub };
}

async function main(): Promise<void> {
  const jwt = await token();
  const me = userOf(jwt);
  $('me').textContent = `you: ${me.name}`;
  $('me').style.color = colour(me.sub);
  $('room-label').textContent = `room: ${room}`;
  const connect = (namespace: '/workspace' | '/chat' | '/ai' | '/uploads') => new SocketClient({ url: location.origin, token: jwt, namespace });
  const workspace = connect('/workspace');
  const chat = connect('/chat');
  const ai = connect('/ai');
  const uploads = connect('/uploads');

  workspace.on('connect', () => {
    status.textContent = 'connected';
    status.dataset.state = 'connected';
  });
  workspace.on('disconnect', () => {
    status.textContent = 'reconnecting…';
    status.dataset.state = 'disconnected';
  });

  // Presence.
  const presence = $('presence');
  workspace.on('room_state', (state) => {
    if (state.room_id !== room) return;
    presence.replaceChildren(
      ...state.users.map((u) => {
        const li = document.createElement('li');
        li.dataset.user = u.user_id;
        li.style.setProperty('--color', colour(u.user_id));
        li.textContent = `${u.username}${u.user_id === me.sub ? ' (you)' : ''}`;
        return li;
      }),
    );
  });

  // The sheet.
  const grid = $<HTMLTableElement>('grid');
  const versions = new Map<string, number>();
  const head = grid.createTHead().insertRow();
  head.append(document.createElement('th'), ...COLUMNS.map((c) => Object.assign(document.createElement('th'), { textContent: c })));
  const body = grid.createTBody();
  for (let r = 1; r <= ROWS; r++) {
    const row = body.insertRow();
    row.append(Object.assign(document.createElement('th'), { textContent: String(r) }));
    for (const c of COLUMNS) {
      const td = row.insertCell();
      td.dataset.cell = `${c}${r}`;
    }
  }
  const cellEl = (id: string) => grid.querySelector<HTMLTableCellElement>(`td[data-cell="${id}"]`);
  const show = (id: string, value: unknown, version: number, flash: boolean) => {
    versions.set(id, version);
    const td = cellEl(id);
    if (!td || td.querySelector('input')) return;
    td.textContent = value === null ? '' : String(value);
    td.dataset.value = td.textContent;
    td.dataset.version = String(version);
    if (version > 0) td.append(Object.assign(document.createElement('span'), { className: 'version', textContent: `v${version}` }));
    if (flash) {
      td.classList.remove('flash');
      void td.offsetWidth;
      td.classList.add('flash');
    }
  };
  workspace.on('cell_updated', (cell) => {
    if (cell.sheet_id === sheet) show(cell.cell_id, cell.value, cell.version, true);
  });

  const conflict = $('conflict');
  const edit = (td: HTMLTableCellElement) => {
    const id = td.dataset.cell!;
    const input = Object.assign(document.createElement('input'), { value: td.dataset.value ?? '' });
    const seen = versions.get(id) ?? 0;
    td.replaceChildren(input);
    input.focus();
    workspace.send('typing_start', { room, cell_id: id });
    let finished = false;
    const done = async (save: boolean) => {
      // Removing the focused input fires its blur: the first call wins.
      if (finished) return;
      finished = true;
      input.remove();
      workspace.send('typing_stop', { room, cell_id: id });
      show(id, td.dataset.value ?? '', versions.get(id) ?? 0, false);
      if (!save) return;
      try {
        const ack = await workspace.request('cell_update', { sheet_id: sheet, cell_id: id, value: input.value, version: seen });
        conflict.hidden = true;
        show(id, ack.cell.value, ack.version, false);
      } catch (err) {
        if (err instanceof GatewayError && err.code === 'VERSION_CONFLICT') {
          const current = (err.details as { current?: { value: unknown; version: number; username: string } }).current;
          conflict.hidden = false;
          conflict.dataset.cell = id;
          conflict.textContent = `Conflict on ${id}: ${current?.username ?? 'someone'} changed it first (now "${String(current?.value ?? '')}", v${current?.version ?? '?'}). Your "${input.value}" was not saved.`;
          if (current) show(id, current.value, current.version, true);
        } else {
          conflict.hidden = false;
          conflict.textContent = `Not saved: ${(err as Error).message}`;
        }
      }
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') void done(true);
      if (e.key === 'Escape') void done(false);
    });
    input.addEventListener('blur', () => void done(false));
  };
  grid.addEventListener('click', (e) => {
    const td = (e.target as HTMLElement).closest<HTMLTableCellElement>('td[data-cell]');
    if (td && !td.querySelector('input')) edit(td);
  });

  // Typing indicators.
  const typing = new Map<string, string>();
  const showTyping = () => ($('typing').textContent = [...typing.values()].join(' · '));
  workspace.on('user_typing_start', (t) => {
    if (t.room_id !== room || t.user_id === me.sub) return;
    typing.set(t.user_id, `${t.username} is typing in ${t.cell_id ?? 'a cell'}`);
    showTyping();
  });
  workspace.on('user_typing_stop', (t) => {
    typing.delete(t.user_id);
    showTyping();
  });

  // Live cursors: volatile, throttled by the gateway; positions relative to the sheet.
  const wrap = $('sheet-wrap');
  const cursors = $('cursors');
  let lastSent = 0;
  wrap.addEventListener('mousemove', (e) => {
    const now = performance.now();
    if (now - lastSent < 30) return;
    lastSent = now;
    const box = wrap.getBoundingClientRect();
    const cell = (e.target as HTMLElement).closest<HTMLElement>('td[data-cell]')?.dataset.cell;
    workspace.send('cursor_move', { room, x: Math.round(e.clientX - box.left), y: Math.round(e.clientY - box.top), ...(cell ? { cell } : {}) }, { volatile: true });
  });
  workspace.on('cursor_moved', (m) => {
    if (m.room_id !== room || m.user_id === me.sub) return;
    let el = cursors.querySelector<HTMLElement>(`.cursor[data-user="${CSS.escape(m.user_id)}"]`);
    if (!el) {
      el = Object.assign(document.createElement('div'), { className: 'cursor' });
      el.dataset.user = m.user_id;
      el.style.setProperty('--color', colour(m.user_id));
      el.append(Object.assign(document.createElement('span'), { textContent: m.username }));
      cursors.append(el);
    }
    el.style.left = `${m.cursor.x}px`;
    el.style.top = `${m.cursor.y}px`;
    el.dataset.cell = m.cursor.cell ?? '';
  });

  // Chat.
  const log = $('chat-log');
  const say = (who: string, text: string) => log.append(Object.assign(document.createElement('li'), { textContent: `${who}: ${text}` }));
  chat.on('message', (m) => m.room_id === room && say(m.author?.username ?? 'someone', m.content));
  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $<HTMLInputElement>('chat-input');
    if (!input.value.trim()) return;
    chat.request('message', { content: input.value, messageType: 'text', room_id: room }).catch((err: Error) => say('gateway', err.message));
    input.value = '';
  });

  // AI: streamed as ai_event to every socket of this user.
  const output = $('ai-output');
  ai.on('ai_event', (e) => {
    const data = e.data as { delta?: string; error?: string };
    if (e.event_type === 'ai_start') output.textContent = '';
    if (e.event_type === 'ai_progress' && data.delta) output.textContent += data.delta;
    if (e.event_type === 'ai_error') output.textContent += `\n[${data.error ?? 'error'}]`;
  });
  $('ai-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const prompt = $<HTMLInputElement>('ai-prompt').value.trim();
    if (!prompt) return;
    ai.request('ai_request', { query: prompt }).catch((err: Error) => {
      output.textContent = err instanceof GatewayError && err.code === 'UPSTREAM_UNAVAILABLE' ? 'No AI upstream is configured on this gateway (AI_UPSTREAM_URL).' : err.message;
    });
  });

  // Upload: tus through the gateway, progress from the gateway's own events.
  const bar = $<HTMLProgressElement>('upload-bar');
  const uploadStatus = $('upload-status');
  const link = $<HTMLAnchorElement>('upload-link');
  uploads.on('file_upload_progress', (p) => {
    bar.value = p.percentage;
    uploadStatus.textContent = `${p.percentage}%`;
  });
  uploads.on('file_upload_complete', (c) => {
    bar.value = 100;
    uploadStatus.textContent = 'done';
    link.hidden = false;
    link.textContent = c.filename;
    link.href = c.url;
    link.dataset.fileId = c.file_id;
  });
  $<HTMLInputElement>('upload-input').addEventListener('change', async (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (!file) return;
    bar.value = 0;
    link.hidden = true;
    try {
      const ticket = await uploads.request('file_upload_start', { file_id: `${file.name}-${file.size}-${file.lastModified}`, filename: file.name, file_size: file.size, mime_type: file.type || 'application/octet-stream' });
      await uploadFile(ticket.upload_path, file, jwt);
    } catch (err) {
      uploadStatus.textContent = `not uploaded: ${(err as Error).message}`;
    }
  });

  // Join the room everywhere it matters, then load the sheet as it is.
  await workspace.request('join_room', { room_id: room });
  await chat.request('join_room', { room_id: room });
  const state = await workspace.request('sheet_state', { sheet_id: sheet });
  for (const [id, cell] of Object.entries(state.cells)) show(id, cell.value, cell.version, false);
  document.body.dataset.ready = 'true';
}

main().catch((err: Error) => {
  status.textContent = err.message;
  status.dataset.state = 'disconnected';
});
