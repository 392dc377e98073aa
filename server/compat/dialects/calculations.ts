import { ErrorCodes, GatewayError } from '../../../shared/errors';
import { isoNow, isRecord, type Dialect, type ErrorInfo, type PendingRequest } from '../dialect';

interface RequestRef {
  chart_id?: string;
  calculation_type?: string;
}

const stringOr = (value: unknown): string | undefined => (typeof value === 'string' && value.length <= 128 ? value : undefined);

function echo(request?: PendingRequest): RequestRef {
  const ref = (request?.ref ?? {}) as RequestRef;
  return {
    ...(ref.calculation_type !== undefined ? { calculation_type: ref.calculation_type } : {}),
    ...(ref.chart_id !== undefined ? { chart_id: ref.chart_id } : {}),
  };
}

/**
 * Seed 000, the calculations API (`/api/websockets/ws/{token}`): the token is the last path
 * segment; a frame `{chart_id, calculation_type, parameters}` (no type) is a `calculate` request
 * answered by `{status: "success", calculation_type, chart_id, result}` or `{status: "error",
 * message, code, calculation_type, chart_id}`. The protocol has no pushes, so events are not
 * forwarded; `{type: "ping"}` gets `{type: "pong"}` as a keepalive. (Its one-connection-per-user
 * rule is the endpoint's, applied by server/handlers/connections.ts.)
 */
export function calculationsDialect(): Dialect {
  return {
    name: '/api/websockets/ws/{token}',
    tokenSource: 'handshake',
    handshake: ({ params }) => ({ token: params.token || undefined }),
    decode(frame) {
      if (!isRecord(frame)) {
        return { kind: 'error', error: new GatewayError(ErrorCodes.INVALID_MESSAGE, 'Expected a calculation request {chart_id, calculation_type, parameters}') };
      }
      if (frame.type === 'ping') return { kind: 'frame', frame: JSON.stringify({ type: 'pong', timestamp: isoNow() }) };
      if (frame.type !== undefined) {
        const error = new GatewayError(ErrorCodes.UNKNOWN_MESSAGE_TYPE, 'Unsupported message: send a calculation request {chart_id, calculation_type, parameters}');
        return { kind: 'error', error };
      }
      const ref: RequestRef = { chart_id: stringOr(frame.chart_id), calculation_type: stringOr(frame.calculation_type) };
      return { kind: 'event', type: 'calculate', payload: frame, reply: { ref } };
    },
    encodeEvent: () => undefined,
    encodeReply: (request, result) => JSON.stringify({ status: 'success', ...echo(request), result: result.result ?? null }),
    encodeError: (e: ErrorInfo, request?: PendingRequest) =>
      JSON.stringify({ ...e.details, status: 'error', message: e.message, code: e.code, ...echo(request) }),
  };
}
