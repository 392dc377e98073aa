/**
 * The few Socket.IO packets (socket.io-parser v4 string encoding, protocol 5) a native connection
 * exchanges with its Socket.IO socket in the root namespace. Format:
 * `<type>[<attachments>-][<nsp>,][<ack id>][<JSON data>]`; the root namespace `/` is omitted.
 */
export const PacketType = {
  CONNECT: 0,
  DISCONNECT: 1,
  EVENT: 2,
  ACK: 3,
  CONNECT_ERROR: 4,
  BINARY_EVENT: 5,
  BINARY_ACK: 6,
} as const;

/** Event names Socket.IO keeps for itself: a client may never send them (the parser refuses them). */
const RESERVED_EVENTS = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

/** Whether `name` can travel as a client event name. */
export function isSendableEventName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= 64 && !RESERVED_EVENTS.has(name);
}

/** The CONNECT packet a client sends to join `/`, carrying the handshake auth payload. */
export function encodeConnect(auth: Record<string, unknown>): string {
  return `${PacketType.CONNECT}${JSON.stringify(auth)}`;
}

/** An EVENT packet as a client would send it; `ackId` asks for an ACK. Throws on unserialisable payloads. */
export function encodeEvent(event: string, payload: unknown, ackId?: number): string {
  const args = payload === undefined ? [event] : [event, payload];
  return `${PacketType.EVENT}${ackId ?? ''}${JSON.stringify(args)}`;
}

export type ServerPacket =
  | { type: typeof PacketType.CONNECT; data: { sid?: string } }
  | { type: typeof PacketType.DISCONNECT }
  | { type: typeof PacketType.EVENT; event: string; payload: unknown }
  | { type: typeof PacketType.ACK; id: number; args: unknown[] }
  | { type: typeof PacketType.CONNECT_ERROR; data: { message?: string; data?: unknown } }
  | { type: 'unsupported'; packetType: number };

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** Decodes a packet the server sends to the native connection's socket (always in `/`). */
export function decodeServerPacket(encoded: string): ServerPacket {
  const type = encoded.charCodeAt(0) - 48;
  let i = 1;
  if (type === PacketType.BINARY_EVENT || type === PacketType.BINARY_ACK) return { type: 'unsupported', packetType: type };
  if (encoded[i] === '/') {
    const comma = encoded.indexOf(',', i);
    i = comma === -1 ? encoded.length : comma + 1;
  }
  let id: number | undefined;
  const idStart = i;
  while (i < encoded.length && isDigit(encoded.charCodeAt(i))) i++;
  if (i > idStart) id = Number(encoded.slice(idStart, i));
  const data: unknown = i < encoded.length ? JSON.parse(encoded.slice(i)) : undefined;
  switch (type) {
    case PacketType.CONNECT:
      return { type, data: (data ?? {}) as { sid?: string } };
    case PacketType.DISCONNECT:
      return { type };
    case PacketType.EVENT: {
      const args = Array.isArray(data) ? data : [];
      return { type, event: String(args[0]), payload: args[1] };
    }
    case PacketType.ACK:
      return { type, id: id ?? -1, args: Array.isArray(data) ? data : [] };
    case PacketType.CONNECT_ERROR:
      return { type, data: (data ?? {}) as { message?: string; data?: unknown } };
    default:
      return { type: 'unsupported', packetType: type };
  }
}
