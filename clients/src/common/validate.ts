import { clientMessage } from '../../../shared/catalogue';
import { ErrorCodes, GatewayError } from './errors';

/**
 * The gateway's own schema check, run before sending: a payload the gateway would refuse with
 * INVALID_MESSAGE is refused here with the same code and issue paths, without a round trip or a
 * rate-limit token. A type the catalogue does not know is the gateway's to judge (RPC_ROUTES).
 */
export function invalidPayload(type: string, payload: unknown): GatewayError | undefined {
  const def = clientMessage(type);
  if (!def) return undefined;
  const parsed = def.schema.safeParse(payload);
  if (parsed.success) return undefined;
  const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const text = issues.map((i) => `${i.path || '(payload)'}: ${i.message}`).join('; ');
  return new GatewayError(ErrorCodes.INVALID_MESSAGE, `Invalid ${type}: ${text}`, { issues, message_type: type });
}
