import { GatewayError } from '../../../shared/errors';
import { bearerToken } from '../../auth/token';
import { clientMessage } from '../../../shared/catalogue';
import { correlationValue, frameType, isoNow, without, type Dialect, type ErrorInfo, type PendingRequest } from '../dialect';

/** A seed 002 error frame: `{type: "error", error, code, timestamp, message_type?, ...details}`. */
export function flatErrorFrame(e: ErrorInfo, request?: PendingRequest): string {
  return JSON.stringify({
    ...e.details,
    ...(request?.ref != null ? { request_id: request.ref } : {}),
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
      // The seed's own types answer with the events their handlers send; a team's own type routed
      // to its backend (RPC_ROUTES) has no such event, so its result comes back as `<type>_result`.
      const custom = clientMessage(type) === undefined;
      const requestId = correlationValue((frame as Record<string, unknown>).request_id);
      return { kind: 'event', type, payload: without(frame, ['type']), reply: custom ? { ref: requestId ?? null } : undefined };
    },
    encodeEvent: (event, payload) => JSON.stringify({ type: event, ...without(payload, ['type']) }),
    encodeReply: (request, result) =>
      JSON.stringify({ type: `${request.type}_result`, ...(request.ref != null ? { request_id: request.ref } : {}), result: result.result ?? null, timestamp: isoNow() }),
    encodeError: (e, request) => flatErrorFrame(e, request),
  };
}
