import { gatewayErrorFrom } from '../../common/errors';
import { correlationOf, isRecord, type Decoded, type NativeDialect } from '../dialect';

const epochSeconds = (): number => Date.now() / 1000;

/**
 * Seed 001, the AI agent platform, at `/ws`: frames `{type, payload, timestamp, correlation_id}`.
 * The gateway greets with `connection_established`, keeps alive with `heartbeat`, and answers
 * every message that carries a correlation_id with exactly one `ack` (payload: message_type and
 * the result) or `error` (payload: code, error, recoverable, help, ...) carrying it back. A live
 * connection's token is replaced with `{type: "auth", payload: {token}}` → `auth_success`.
 */
export const agentsDialect: NativeDialect = {
  name: 'seed 001 (/ws)',
  path: '/ws',
  discoveryKey: 'websocket',
  handshake: 'greeting',
  encode: (type, payload, correlation) =>
    JSON.stringify({ type, payload: payload ?? {}, timestamp: epochSeconds(), ...(correlation !== undefined ? { correlation_id: correlation } : {}) }),
  decode(frame): Decoded {
    if (!isRecord(frame) || typeof frame.type !== 'string') return { kind: 'event', type: '', payload: frame };
    const payload = isRecord(frame.payload) ? frame.payload : {};
    const correlation = correlationOf(frame.correlation_id);
    switch (frame.type) {
      case 'connection_established':
        return { kind: 'ready', info: payload };
      case 'pong':
        return { kind: 'pong' };
      case 'heartbeat':
        return { kind: 'heartbeat' };
      case 'auth_success':
        return { kind: 'auth_success' };
      case 'error':
        return { kind: 'error', error: gatewayErrorFrom(payload), correlation, messageType: typeof payload.message_type === 'string' ? payload.message_type : undefined };
      case 'ack':
        if (correlation !== undefined) {
          const { message_type: _type, ...result } = payload;
          return { kind: 'reply', correlation, result };
        }
        return { kind: 'event', type: 'ack', payload };
      default:
        return { kind: 'event', type: frame.type, payload: frame.payload };
    }
  },
  ping: () => JSON.stringify({ type: 'ping', payload: {}, timestamp: epochSeconds() }),
  answering: () => ({ by: 'correlation' }),
  refresh: (token) => JSON.stringify({ type: 'auth', payload: { token }, timestamp: epochSeconds() }),
};
