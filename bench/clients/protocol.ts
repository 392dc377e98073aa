/**
 * What the load generators send and expect from each kind of server. The gateway's fan-out
 * message lives in `gatewayChat`: change it here if the chat feature names things differently.
 */
export type ServerKind = 'gateway' | 'socketio' | 'ws';

export interface ChatSpec {
  /** Socket.IO namespace the clients connect to. */
  namespace: string;
  joinEvent: string;
  publishEvent: string;
  /** The event every room member (the sender included) receives. */
  receiveEvent: string;
  /** Events pushed by the server that the bench ignores (room_state on every join). */
  ignoredEvents: string[];
  payload(roomId: string, content: string): unknown;
}

/**
 * The gateway's chat feature (server/handlers/chat.ts): `message` {room_id, content, messageType}
 * in, `message` {id, room_id, content, messageType, author, timestamp} out to the whole room.
 * Joining pushes room_state (coalesced per room) and user_joined to the room: ignored here.
 */
export const gatewayChat: ChatSpec = {
  namespace: '/',
  joinEvent: 'join_room',
  publishEvent: 'message',
  receiveEvent: 'message',
  ignoredEvents: ['room_state', 'user_joined', 'user_left', 'cell_updated'],
  payload: (roomId, content) => ({ room_id: roomId, content, messageType: 'text' }),
};

/** The bare socket.io baseline (bench/servers/socketio-baseline.ts): the same names, relayed as-is. */
export const baselineChat: ChatSpec = {
  namespace: '/',
  joinEvent: 'join_room',
  publishEvent: 'message',
  receiveEvent: 'message',
  ignoredEvents: ['cell_updated'],
  payload: (roomId, content) => ({ room_id: roomId, content, messageType: 'text' }),
};

/**
 * Scenario 6: a versioned cell update answered by an ack (the gateway's cells feature: compare-and-
 * set, cell_updated to the sender's rooms, ack {ok, version}). The socket.io baseline answers the
 * same event with the bare Socket.IO equivalent: a broadcast to the room and an ack.
 */
export const cellUpdate = {
  event: 'cell_update',
  payload: (cellId: string, i: number, version: number) => ({ sheet_id: 'bench-sheet', cell_id: cellId, value: i, version }),
  versionOf: (ack: unknown): number | undefined => (ack as { version?: number } | undefined)?.version,
};

/** The gateway's native endpoint used for scenario 6 (seed 002 dialect: flat `{type, ...fields}`). */
export const NATIVE_PATH = '/api/v1/ws';

export function chatSpecOf(kind: ServerKind): ChatSpec {
  return kind === 'gateway' ? gatewayChat : baselineChat;
}

/** Message content: `@ts=<µs>;p=<phase>;` then padding to `bytes` characters. */
export function content(tsUs: number, phase: number, bytes: number): string {
  const head = `@ts=${tsUs};p=${phase};`;
  return head.length >= bytes ? head : head + 'x'.repeat(bytes - head.length);
}

/** Reads the send time and phase out of a raw frame without parsing its JSON; null when absent. */
export function stampOf(frame: string): { tsUs: number; phase: number } | null {
  const at = frame.indexOf('@ts=');
  if (at < 0) return null;
  const semi = frame.indexOf(';', at);
  const semi2 = frame.indexOf(';', semi + 1);
  if (semi < 0 || semi2 < 0) return null;
  return { tsUs: Number(frame.slice(at + 4, semi)), phase: Number(frame.slice(semi + 3, semi2)) };
}
