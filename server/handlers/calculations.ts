import { ErrorCodes, GatewayError } from '../../shared/errors';
import type { Feature } from './context';

/**
 * Calculations (seed 000): `calculate {chart_id, calculation_type, parameters}` answered by the ack
 * `{result}`. No calculation backend is configured on this gateway yet, so every request is
 * answered with UPSTREAM_UNAVAILABLE and that reason (native clients get `{status: "error",
 * message}`), never silence.
 */
export const registerCalculations: Feature = (ctx) => {
  ctx.handle('calculate', ({ chart_id, calculation_type }) => {
    throw new GatewayError(
      ErrorCodes.UPSTREAM_UNAVAILABLE,
      `No calculation backend is configured on this gateway: cannot compute ${calculation_type} for chart ${chart_id}`,
    );
  });
};
