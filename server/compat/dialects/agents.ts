import { ErrorCodes, GatewayError, type ErrorCode } from '../../../shared/errors';
import { bearerToken } from '../../auth/token';
import type { Config } from '../../config';
import { correlationValue, frameType, isRecord, type Dialect, type ErrorInfo, type NativeSession, type PendingRequest } from '../dialect';

/** Seed 001 timestamps are Unix epoch seconds. */
const epochSeconds = (): number => Date.now() / 1000;

/** Codes after which the connection is not usable as it is (seed 001's `recoverable: false`). */
const UNRECOVERABLE = new Set<ErrorCode>([ErrorCodes.AUTHENTICATION_FAILED, ErrorCodes.MESSAGE_TOO_LARGE, ErrorCodes.CONNECTION_LIMIT]);

/** Seed 001's `help`: what the client can do about each error. */
const HELP: Readonly<Record<ErrorCode, string>> = {
  AUTHENTICATION_FAILED: 'Reconnect with a valid JWT: /ws?token=<jwt>',
  PERMISSION_DENIED: "Your token's roles or rooms claims do not allow this",
  RATE_LIMIT_EXCEEDED: 'Send fewer messages and retry later',
  INVALID_JSON: 'Send each message as one JSON object: {"type", "payload", "correlation_id"}',
  INVALID_MESSAGE: 'Check the message fields against the message specification',
  UNKNOWN_MESSAGE_TYPE: 'Use a message type the gateway supports',
  ROOM_NOT_FOUND: 'Check the room id',
  NOT_IN_ROOM: 'Join the room first with join_room',
  VERSION_CONFLICT: 'Reload the current state and retry with its version',
  MESSAGE_TOO_LARGE: 'Reconnect and send smaller messages',
  CONNECTION_LIMIT: 'Retry later',
  UPSTREAM_UNAVAILABLE: 'A backend service is unavailable; retry later',
  INTERNAL_ERROR: 'Retry; report the problem if it persists',
};

const withCorrelation = (frame: Record<string, unknown>, correlation: unknown): string =>
  JSON.stringify(correlation === undefined ? frame : { ...frame, correlation_id: correlation });

/**
 * Seed 001, the AI agent platform (`/ws?token=`): frames `{type, payload, timestamp,
 * correlation_id}`. On connect the server sends `connection_established`, then `heartbeat` every
 * NATIVE_HEARTBEAT_MS; `ping` gets `pong`. A request that carries a correlation_id (in the envelope,
 * or in the payload as the seed's frontend sends it) is answered by exactly one frame with that
 * correlation_id: `ack` (payload: the result) or `error`.
 */
export function agentsDialect(config: Config): Dialect {
  return {
    name: '/ws',
    tokenSource: 'handshake',
    handshake: ({ query, headers }) => ({ token: query.get('token') || bearerToken(headers) }),
    decode(frame) {
      // The seed's own frontend puts correlation_id in the payload; the envelope's wins.
      const correlation = isRecord(frame) ? correlationValue(frame.correlation_id) ?? (isRecord(frame.payload) ? correlationValue(frame.payload.correlation_id) : undefined) : undefined;
      const type = frameType(frame);
      if (type instanceof GatewayError) return { kind: 'error', error: type, request: { type: '', ref: correlation } };
      if (type === 'ping') {
        return { kind: 'frame', frame: withCorrelation({ type: 'pong', payload: { server_time: epochSeconds() }, timestamp: epochSeconds() }, correlation) };
      }
      if (type === 'pong') return { kind: 'ignore' };
      let payload = (frame as Record<string, unknown>).payload ?? {};
      // The request's correlation id travels with it into the handler (agent streams carry it on
      // every event they send); the envelope's wins over the payload's.
      if (correlation !== undefined && isRecord(payload)) payload = { ...payload, correlation_id: correlation };
      if (type === 'auth') {
        // Seed 001's token refresh on a live connection: {type: "auth", payload: {token}}.
        const token = isRecord(payload) && typeof payload.token === 'string' ? payload.token : undefined;
        return { kind: 'auth', token, context: {} };
      }
      return { kind: 'event', type, payload, reply: correlation === undefined ? undefined : { ref: correlation } };
    },
    // An event about a request (agent streams) carries its correlation_id in the envelope too.
    encodeEvent: (event, payload) =>
      withCorrelation({ type: event, payload, timestamp: epochSeconds() }, isRecord(payload) ? correlationValue(payload.correlation_id) : undefined),
    encodeReply: (request: PendingRequest, result) =>
      withCorrelation({ type: 'ack', payload: { message_type: request.type, ...result }, timestamp: epochSeconds() }, request.ref),
    encodeError(e: ErrorInfo, request?: PendingRequest) {
      const payload = {
        ...e.details,
        code: e.code,
        error: e.message,
        timestamp: epochSeconds(),
        recoverable: !UNRECOVERABLE.has(e.code),
        help: HELP[e.code],
        ...(e.messageType ? { message_type: e.messageType } : {}),
      };
      return withCorrelation({ type: 'error', payload, timestamp: epochSeconds() }, request?.ref ?? correlationValue(e.details.correlation_id));
    },
    encodeAuthSuccess: (session: NativeSession) =>
      JSON.stringify({ type: 'auth_success', payload: { user_id: session.principal.userId, connection_id: session.socket.id }, timestamp: epochSeconds() }),
    onConnected(session: NativeSession) {
      const { userId, username } = session.principal;
      session.send(
        JSON.stringify({
          type: 'connection_established',
          payload: {
            connection_id: session.socket.id,
            user_id: userId,
            username,
            server_time: epochSeconds(),
            heartbeat_interval: config.nativeHeartbeatMs,
            max_message_size: config.maxMessageBytes,
          },
          timestamp: epochSeconds(),
        }),
      );
      session.every(config.nativeHeartbeatMs, () =>
        session.send(JSON.stringify({ type: 'heartbeat', payload: { server_time: epochSeconds() }, timestamp: epochSeconds() })),
      );
    },
  };
}
