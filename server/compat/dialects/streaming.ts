import { GatewayError } from '../../../shared/errors';
import { frameType, isoNow, isRecord, without, type Dialect, type ErrorInfo, type PendingRequest } from '../dialect';

/** Requests that always get an answer, and the answer's type. */
const REPLIES: Readonly<Record<string, string>> = { subscribe: 'subscribed', unsubscribe: 'unsubscribed' };

const ENVELOPE = ['subscription_id', 'metadata'];

function envelope(type: string, data: unknown, extra: { subscription_id?: unknown; metadata?: unknown } = {}): string {
  return JSON.stringify({
    type,
    data,
    ...(extra.subscription_id !== undefined ? { subscription_id: extra.subscription_id } : {}),
    timestamp: isoNow(),
    ...(extra.metadata !== undefined ? { metadata: extra.metadata } : {}),
  });
}

/**
 * Seed 003, streaming analytics (`/api/streaming/ws`): the first message authenticates
 * (`{type: "auth", data: {token}}` → `auth_success {client_id}` or `auth_failed` and close 1008; no
 * auth within AUTH_TIMEOUT_MS closes with 1008). Frames are `{type, data, subscription_id,
 * timestamp, metadata}`; `subscribe` is answered by `subscribed` with the subscription id,
 * `unsubscribe` by `unsubscribed`; `ping` by `pong`; errors are `{type: "error", data: {error, code}}`.
 * An outgoing event's `subscription_id` and `metadata` move to the envelope; for `data` deliveries
 * the payload's `data` is the frame's data.
 */
export function streamingDialect(): Dialect {
  return {
    name: '/api/streaming/ws',
    tokenSource: 'first-message',
    decode(frame) {
      const type = frameType(frame);
      if (type instanceof GatewayError) return { kind: 'error', error: type };
      const message = frame as Record<string, unknown>;
      if (type === 'auth') {
        const token = isRecord(message.data) ? message.data.token : undefined;
        return { kind: 'auth', token: typeof token === 'string' ? token : undefined, context: {} };
      }
      if (type === 'ping') return { kind: 'frame', frame: envelope('pong', {}) };
      if (type === 'pong') return { kind: 'ignore' };
      let payload = message.data ?? {};
      if (type === 'unsubscribe' && isRecord(payload) && payload.subscription_id === undefined && message.subscription_id !== undefined) {
        payload = { ...payload, subscription_id: message.subscription_id };
      }
      return { kind: 'event', type, payload, reply: REPLIES[type] ? { ref: undefined } : undefined };
    },
    encodeEvent(event, payload) {
      if (!isRecord(payload)) return envelope(event, payload ?? {});
      const rest = without(payload, ENVELOPE);
      const keys = Object.keys(rest);
      const data = keys.length === 1 && keys[0] === 'data' ? rest.data : rest;
      return envelope(event, data, payload);
    },
    encodeReply(request: PendingRequest, result) {
      const type = REPLIES[request.type];
      return type ? envelope(type, result, { subscription_id: result.subscription_id }) : undefined;
    },
    encodeError: (e: ErrorInfo) =>
      envelope('error', { ...e.details, error: e.message, code: e.code, ...(e.messageType ? { message_type: e.messageType } : {}) }),
    encodeAuthSuccess: (session) => envelope('auth_success', { client_id: session.socket.id, user_id: session.principal.userId }),
    encodeAuthFailure: (e: ErrorInfo) => envelope('auth_failed', { error: e.message, code: e.code }),
  };
}
