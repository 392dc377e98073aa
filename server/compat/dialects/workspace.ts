import { GatewayError } from '../../../shared/errors';
import { bearerToken } from '../../auth/token';
import { frameType, isoNow, without, type Dialect, type ErrorInfo } from '../dialect';

/** A seed 002 error frame: `{type: "error", error, code, timestamp, message_type?, ...details}`. */
export function flatErrorFrame(e: ErrorInfo): string {
  return JSON.stringify({
    ...e.details,
    type: 'error',
    error: e.message,
    code: e.code,
    ...(e.messageType ? { message_type: e.messageType } : {}),
    timestamp: isoNow(),
  });
}

/**
 * Seed 002, the spreadsheet workspace backend (`/api/v1/ws`): flat frames `{type, ...fields}` both
 * ways, exactly the Socket.IO event name and payload; token from `?token=` or `Authorization:
 * Bearer`. `ping` is answered with `pong`. No replies on success (the seed has none): results
 * arrive as the events the handlers send, errors as the seed's error frame.
 */
export function workspaceDialect(): Dialect {
  return {
    name: '/api/v1/ws',
    tokenSource: 'handshake',
    handshake: ({ query, headers }) => ({ token: query.get('token') || bearerToken(headers) }),
    decode(frame) {
      const type = frameType(frame);
      if (type instanceof GatewayError) return { kind: 'error', error: type };
      if (type === 'ping') return { kind: 'frame', frame: JSON.stringify({ type: 'pong', timestamp: isoNow() }) };
      if (type === 'pong') return { kind: 'ignore' };
      return { kind: 'event', type, payload: without(frame, ['type']) };
    },
    encodeEvent: (event, payload) => JSON.stringify({ type: event, ...without(payload, ['type']) }),
    encodeReply: () => undefined,
    encodeError: flatErrorFrame,
  };
}
