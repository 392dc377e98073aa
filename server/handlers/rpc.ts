import { ErrorCodes, GatewayError } from '../../shared/errors';
import { createRpcClient, type RpcClient } from '../upstreams/rpc';
import type { Call, Feature, FeatureContext } from './context';

/** Backend calls under way on an engine.io connection (all its namespaces, and its native dialect). */
const RPC_IN_FLIGHT = Symbol('gateway.rpcInFlight');
type CountedConn = { [RPC_IN_FLIGHT]?: number };

/** What a client refused by the in-flight bound is told to wait before it retries. */
const RETRY_AFTER_MS = 250;

/** Calls a backend on behalf of the message's caller; resolves with the backend's JSON. */
export type BackendCall = (url: string, body: unknown, call: Call) => Promise<unknown>;

/**
 * The backend calls of one feature: the caller's identity forwarded (its current token, which
 * `refresh_token` replaces, and its `sub`), the call's abort signal passed on (caller gone, pod
 * shutting down), and at most RPC_MAX_IN_FLIGHT_PER_CONNECTION calls waiting per connection,
 * counted on the engine.io connection so that calculations and every RPC route share one bound
 * (a client cannot pile up slow backend requests by spreading them over message types).
 * Features make one each; the HTTP connections are pooled by Node's fetch all the same.
 */
export function backendCaller(ctx: FeatureContext): BackendCall {
  const client: RpcClient = createRpcClient({ timeoutMs: ctx.config.rpc.timeoutMs, logger: ctx.logger });
  const limit = ctx.config.rpc.maxInFlightPerConnection;
  return async (url, body, call) => {
    const conn = call.socket.conn as unknown as CountedConn;
    const inFlight = conn[RPC_IN_FLIGHT] ?? 0;
    if (inFlight >= limit) {
      throw new GatewayError(ErrorCodes.RATE_LIMIT_EXCEEDED, `Too many backend requests awaiting an answer on this connection (at most ${limit})`, {
        retry_after_ms: RETRY_AFTER_MS,
        limit,
      });
    }
    conn[RPC_IN_FLIGHT] = inFlight + 1;
    try {
      return await client.call(url, body, { token: call.socket.data.token, userId: call.principal.userId }, call.signal);
    } finally {
      conn[RPC_IN_FLIGHT] = (conn[RPC_IN_FLIGHT] ?? 1) - 1;
    }
  };
}

/**
 * RPC_ROUTES: a team's own message types proxied to its backend, as Centrifugo's RPC proxy or an
 * API Gateway integration does, so a team migrating to the gateway keeps its request/response
 * messages without a server of its own in between. Each route's payload (any JSON object) is
 * POSTed to its URL with the caller's identity; the backend's JSON comes back as the ack
 * `{result}` (Socket.IO acks; seed 001's `ack` frame with the correlation_id), and its refusals as
 * the gateway's error codes (see server/upstreams/rpc.ts). Routes are served on `/` and on the
 * native dialects. A route named like a catalogue type is refused by the dispatcher: the gateway
 * does not start.
 */
export const registerRpc: Feature = (ctx) => {
  const routes = Object.entries(ctx.config.rpc.routes);
  if (routes.length === 0) return;
  const callBackend = backendCaller(ctx);
  for (const [type, url] of routes) {
    ctx.handleCustom(type, async (payload, call) => ({ result: await callBackend(url, payload, call) }));
  }
};
