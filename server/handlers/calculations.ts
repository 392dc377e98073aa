import { ErrorCodes, GatewayError } from '../../shared/errors';
import type { Feature } from './context';
import { backendCaller } from './rpc';

/**
 * Calculations (seed 000): `calculate {chart_id, calculation_type, parameters}` is POSTed as that
 * JSON to CALCULATIONS_URL with the caller's bearer token and `X-User-Id`, because the backend is
 * where "users can only access their own charts" is enforced; its JSON is the ack `{result}`
 * (native clients get `{status: "success", calculation_type, chart_id, result}`), its refusals and
 * failures the mapped error codes (`{status: "error", message, code}`). Calls share the
 * per-connection in-flight bound of the RPC routes. Without CALCULATIONS_URL every request is
 * answered UPSTREAM_UNAVAILABLE naming the variable, never silence.
 */
export const registerCalculations: Feature = (ctx) => {
  const url = ctx.config.rpc.calculationsUrl;
  if (!url) {
    ctx.handle('calculate', ({ chart_id, calculation_type }) => {
      throw new GatewayError(
        ErrorCodes.UPSTREAM_UNAVAILABLE,
        `No calculation backend is configured on this gateway (set CALCULATIONS_URL): cannot compute ${calculation_type} for chart ${chart_id}`,
      );
    });
    return;
  }
  const callBackend = backendCaller(ctx);
  ctx.handle('calculate', async ({ chart_id, calculation_type, parameters }, call) => ({
    result: await callBackend(url, { chart_id, calculation_type, parameters }, call),
  }));
};
