import { clientMessage } from '../../../../shared/catalogue';
import { gatewayErrorFrom } from '../../common/errors';
import { correlationOf, isRecord, type Answering, type Decoded, type NativeDialect } from '../dialect';

/**
 * Seed 002, the spreadsheet workspace backend, at `/api/v1/ws`: flat frames `{type, ...fields}`
 * both ways. The seed answers no successful message except by the events it causes, so a request
 * is possible for the types whose result travels as a reply event (sheet_state, history,
 * join_session → session_state, ...), matched in order, and for the gateway's RPC_ROUTES types
 * (`{type: "<type>_result", request_id, result}`). Errors are `{type: "error", code, error,
 * message_type, ...}`, matched to the oldest request of that message type (or by request_id).
 */
export const workspaceDialect: NativeDialect = {
  name: 'seed 002 (/api/v1/ws)',
  path: '/api/v1/ws',
  discoveryKey: 'workspace',
  handshake: 'ping',
  encode: (type, payload, correlation) =>
    JSON.stringify({ ...(isRecord(payload) ? payload : {}), type, ...(correlation !== undefined ? { request_id: correlation } : {}) }),
  decode(frame): Decoded {
    if (!isRecord(frame) || typeof frame.type !== 'string') return { kind: 'event', type: '', payload: frame };
    const { type, ...fields } = frame;
    if (type === 'pong') return { kind: 'pong' };
    if (type === 'error') {
      return { kind: 'error', error: gatewayErrorFrom(frame), correlation: correlationOf(frame.request_id), messageType: typeof frame.message_type === 'string' ? frame.message_type : undefined };
    }
    const correlation = correlationOf(frame.request_id);
    if (type.endsWith('_result') && correlation !== undefined && 'result' in frame) return { kind: 'reply', correlation, result: { result: frame.result } };
    return { kind: 'event', type, payload: fields };
  },
  ping: () => JSON.stringify({ type: 'ping' }),
  answering(type): Answering {
    const def = clientMessage(type);
    if (!def) return { by: 'correlation' }; // an RPC_ROUTES type
    return def.reply !== undefined ? { by: 'event', event: def.reply } : { by: 'none' };
  },
};
