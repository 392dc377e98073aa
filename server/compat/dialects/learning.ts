import { randomUUID } from 'node:crypto';
import { GatewayError } from '../../../shared/errors';
import { correlationValue, frameType, isoNow, isRecord, type Dialect, type ErrorInfo, type PendingRequest } from '../dialect';

export type LearningEndpoint = 'chat' | 'analytics' | 'collaboration';

/** Requests that always get an answer frame, and its type (history returns the messages). */
const REPLIES: Readonly<Record<string, string>> = { history: 'history', subscribe_metrics: 'subscribed', unsubscribe: 'unsubscribed' };

const contextValue = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);

/** The connection context: the room a `contextId` names. */
const contextOf = (contextId: string | undefined): Record<string, string> => (contextId ? { contextId } : {});

function frame(type: string, data: unknown, id: unknown = randomUUID(), error?: string): string {
  return JSON.stringify({ type, id, timestamp: isoNow(), data, ...(error !== undefined ? { error } : {}) });
}

/**
 * Seed 004, the learning platform's three endpoints (`/api/chat/ws`, `/api/analytics/ws`,
 * `/api/collaboration/ws`): frames `{type, id, timestamp, data, error}`; token from `?token=` or a
 * first `{type: "auth", token, contextId}` message (answered by `auth_success`); `contextId` (query
 * or auth message) is the room joined right after connecting, through the ordinary `join_room`.
 * `{type, data}` becomes event `type` with payload `data`; events go out as `{type, id, timestamp,
 * data}`. On the analytics endpoint `subscribe {metrics}` is the event `subscribe_metrics` (seed
 * 003 owns `subscribe`). A frame with an `id` is a request answered by `ack` (or its reply type)
 * or `error` with the same id; `history`, `subscribe` and `unsubscribe` are always answered.
 */
export function learningDialect(endpoint: LearningEndpoint): Dialect {
  return {
    name: `/api/${endpoint}/ws`,
    tokenSource: 'handshake-or-first-message',
    handshake: ({ query }) => {
      return { token: query.get('token') || undefined, context: contextOf(contextValue(query.get('contextId'))) };
    },
    decode(input) {
      const type = frameType(input);
      const message = (isRecord(input) ? input : {}) as Record<string, unknown>;
      const id = correlationValue(message.id);
      if (type instanceof GatewayError) return { kind: 'error', error: type, request: { type: '', ref: id } };
      const data = isRecord(message.data) ? message.data : {};
      if (type === 'auth') {
        const token = contextValue(message.token) ?? contextValue(data.token);
        return { kind: 'auth', token, context: contextOf(contextValue(message.contextId) ?? contextValue(data.contextId)) };
      }
      if (type === 'ping') return { kind: 'frame', frame: frame('pong', {}, id ?? randomUUID()) };
      if (type === 'pong') return { kind: 'ignore' };
      const event = endpoint === 'analytics' && type === 'subscribe' ? 'subscribe_metrics' : type;
      const reply = id !== undefined || REPLIES[event] ? { ref: id } : undefined;
      return { kind: 'event', type: event, payload: message.data ?? {}, reply };
    },
    encodeEvent: (event, payload) => frame(event, payload ?? {}),
    encodeReply(request: PendingRequest, result) {
      const type = REPLIES[request.type];
      if (type) return frame(type, result, request.ref ?? randomUUID());
      return request.ref === undefined ? undefined : frame('ack', { message_type: request.type, ...result }, request.ref);
    },
    encodeError: (e: ErrorInfo, request?: PendingRequest) =>
      frame('error', { ...e.details, code: e.code, ...(e.messageType ? { message_type: e.messageType } : {}) }, request?.ref ?? randomUUID(), e.message),
    encodeAuthSuccess: (session) =>
      frame('auth_success', { userId: session.principal.userId, username: session.principal.username, contextId: session.context.contextId ?? null }),
    encodeAuthFailure: (e: ErrorInfo) => frame('error', { code: e.code }, randomUUID(), e.message),
    onConnected(session) {
      const { contextId } = session.context;
      if (contextId !== undefined) session.inject('join_room', { room_id: contextId });
    },
  };
}
