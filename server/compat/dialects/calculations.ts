import { ErrorCodes, GatewayError } from '../../../shared/errors';
import { emitTo } from '../../rooms';
import { CloseCodes, isoNow, isRecord, type Dialect, type ErrorInfo, type NativeSession, type PendingRequest } from '../dialect';

/** The internal room of one user's seed 000 connections, on every pod. */
export const calculationConnectionsRoom = (userId: string): string => `calculations:user:${userId}`;

const REPLACED = 'Replaced by a newer connection of the same user';

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

/** Whether a `connection_replaced` notice (from `by`, connected at `at`) replaces this session. */
function isReplacedBy(session: NativeSession, by: string, at: number): boolean {
  if (by === session.socket.id) return false;
  return at > session.connectedAt || (at === session.connectedAt && by > session.socket.id);
}

/**
 * Seed 000, the calculations API (`/api/websockets/ws/{token}`): the token is the last path
 * segment; a frame `{chart_id, calculation_type, parameters}` (no type) is a `calculate` request
 * answered by `{status: "success", calculation_type, chart_id, result}` or `{status: "error",
 * message, code, calculation_type, chart_id}`. One connection per user: a new one closes the
 * user's older ones on every pod with 1008 and a reason. The protocol has no pushes, so other
 * events are not forwarded; `{type: "ping"}` gets `{type: "pong"}` as a keepalive.
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
    onConnected(session) {
      const room = calculationConnectionsRoom(session.principal.userId);
      void session.socket.join(room);
      emitTo(session.io, room, 'connection_replaced', { reason: REPLACED, replaced_by: session.socket.id, connected_at: session.connectedAt }, { except: session.socket });
    },
    control(event, payload, session) {
      if (event !== 'connection_replaced') return false;
      if (isRecord(payload) && typeof payload.replaced_by === 'string' && typeof payload.connected_at === 'number') {
        if (isReplacedBy(session, payload.replaced_by, payload.connected_at)) session.close(CloseCodes.POLICY, String(payload.reason ?? REPLACED));
      }
      return true;
    },
  };
}
