import { clientMessage } from '../../../shared/catalogue';
import { schemaRefusal } from '../../../shared/errors';
import type { GatewayError } from './errors';

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
  return schemaRefusal(type, parsed.error.issues, '(payload)', { message_type: type });
}
