import { ErrorCodes, GatewayError, refusal } from '../../shared/errors';
import type { RateClass } from '../../shared/messages/define';
import { markClosing } from '../disconnect';
import { WindowCounter } from '../limits/window';
import type { GuardInput } from '../pipeline';
import type { GatewaySocket } from '../types';
import type { Feature } from './context';

/** One connection's budgets (shared by its namespaces), kept on the engine.io connection. */
interface ConnectionBudgets {
  readonly byClass: Partial<Record<RateClass, WindowCounter>>;
  readonly refusals?: WindowCounter;
}

const BUDGETS = Symbol('gateway.budgets');
type BudgetedConn = { [BUDGETS]?: ConnectionBudgets };

const MINUTE = 60_000;
/** Users remembered as over budget on this pod (forgotten all at once past this; they are asked again). */
const MAX_REMEMBERED_REFUSALS = 10_000;

/**
 * Rate limits by rate class (README: Rate limits and protection), as pipeline guards:
 * - every class has a per-connection budget, counted on this pod: `request` messages
 *   CONNECTION_REQUESTS_PER_MINUTE (seed 004: 100), `stream` messages STREAM_MESSAGES_PER_SECOND
 *   (dropped silently over it: a cursor position is superseded by the next one), `control`
 *   messages CONTROL_MESSAGES_PER_MINUTE;
 * - `request` messages also count against the user's budget on every pod:
 *   WEBSOCKET_REQUESTS_PER_MINUTE (then blocked for WEBSOCKET_BLOCK_DURATION_MINUTES) and
 *   WEBSOCKET_REQUESTS_PER_HOUR (seed 002: 60, 1000, 15);
 * - a connection refused more than RATE_LIMIT_DISCONNECT_AFTER times within a minute is closed
 *   (native clients: 1008 "Rate limit exceeded", as seed 004 does);
 * - at most MAX_IN_FLIGHT_PER_CONNECTION asynchronous calls of one socket run at once.
 * Refusals are RATE_LIMIT_EXCEEDED with `retry_after_ms`, on the message's one way out.
 */
export const registerRateLimits: Feature = (ctx) => {
  const { limits: cfg } = ctx.config;
  const log = ctx.logger.child({ module: 'rate-limits' });

  const newBudgets = (): ConnectionBudgets => ({
    byClass: {
      ...(cfg.connectionRequestsPerMinute > 0 ? { request: new WindowCounter(cfg.connectionRequestsPerMinute, MINUTE) } : {}),
      ...(cfg.streamMessagesPerSecond > 0 ? { stream: new WindowCounter(cfg.streamMessagesPerSecond, 1000) } : {}),
      ...(cfg.controlMessagesPerMinute > 0 ? { control: new WindowCounter(cfg.controlMessagesPerMinute, MINUTE) } : {}),
    },
    refusals: cfg.disconnectAfterRefusals > 0 ? new WindowCounter(cfg.disconnectAfterRefusals, MINUTE) : undefined,
  });
  const budgetsOf = (socket: GatewaySocket): ConnectionBudgets => ((socket.conn as unknown as BudgetedConn)[BUDGETS] ??= newBudgets());

  const refuse = (input: GuardInput, scope: 'connection' | 'user', retryAfterMs: number): never => {
    const { socket } = input;
    if (input.rate !== 'stream' && budgetsOf(socket).refusals?.take(Date.now())) {
      log.warn('closing a connection that keeps exceeding its rate limits', { socket_id: socket.id, user_id: socket.data.principal.userId });
      // Nothing more of it is served from now on; it is told why after this message's refusal.
      markClosing(socket.conn);
      process.nextTick(() => ctx.disconnect(socket, new GatewayError(ErrorCodes.RATE_LIMIT_EXCEEDED, 'Rate limit exceeded')));
    }
    const per = scope === 'user' ? 'for this user' : 'on this connection';
    throw refusal(ErrorCodes.RATE_LIMIT_EXCEEDED, `Rate limit exceeded: too many ${input.rate} messages ${per}`, { retry_after_ms: retryAfterMs, scope });
  };

  ctx.guard({
    name: 'in-flight',
    check(input) {
      const calls = input.socket.data.calls;
      if (calls && calls.size >= cfg.maxInFlightPerConnection) {
        throw refusal(ErrorCodes.RATE_LIMIT_EXCEEDED, 'Too many requests awaiting an answer', {
          retry_after_ms: 100,
          limit: cfg.maxInFlightPerConnection,
        });
      }
    },
  });

  ctx.guard({
    name: 'connection',
    check(input) {
      const wait = budgetsOf(input.socket).byClass[input.rate]?.take(Date.now());
      if (wait) refuse(input, 'connection', wait);
    },
  });

  if (cfg.userRequestsPerMinute > 0 || cfg.userRequestsPerHour > 0) {
    // A user known to be over budget is refused here without asking the shared counters again
    // until the refusal's time is up (a flood costs no Redis traffic and no promise per frame).
    const refusedUntil = new Map<string, number>();
    ctx.guard({
      name: 'user',
      check(input) {
        if (input.rate !== 'request') return;
        const userId = input.socket.data.principal.userId;
        const until = refusedUntil.get(userId);
        if (until !== undefined) {
          const left = until - Date.now();
          if (left > 0) refuse(input, 'user', left);
          refusedUntil.delete(userId);
        }
        return ctx.limits.userRequest(userId).then((decision) => {
          if (decision.allowed) return;
          if (refusedUntil.size >= MAX_REMEMBERED_REFUSALS) refusedUntil.clear();
          refusedUntil.set(userId, Date.now() + decision.retryAfterMs);
          refuse(input, 'user', decision.retryAfterMs);
        });
      },
    });
  }
};
