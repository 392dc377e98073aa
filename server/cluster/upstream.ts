import { ErrorCodes, GatewayError } from '../../shared/errors';

/** Runs a Redis call; a failure (Redis away, timeout) becomes UPSTREAM_UNAVAILABLE for the client. */
export async function upstream<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    throw new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, 'State store unavailable, try again');
  }
}
