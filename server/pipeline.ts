import type { ErrorCode } from '../shared/errors';
import type { RateClass } from '../shared/messages/define';
import type { NamespaceName } from '../shared/namespaces';
import type { GatewaySocket } from './types';

/**
 * The message pipeline's extension points. Every incoming message goes through, in order: routing
 * (type known and served by the namespace), the size limit, every guard (token still valid, rate
 * limits, in-flight bound), the schema, then the handler. Observers (metrics, logs) see
 * every outcome, refused or handled. See server/dispatch.ts.
 */

/** What a guard sees of the message it may refuse. */
export interface GuardInput {
  readonly socket: GatewaySocket;
  readonly type: string;
  readonly rate: RateClass;
  readonly namespace: NamespaceName;
  /** The payload as received, not validated yet (guards run before the schema). */
  readonly payload: unknown;
}

/**
 * A check that runs before the handler. It throws (or rejects with) a GatewayError to refuse the
 * message; a `stream`-class message refused by a guard is dropped silently (it is throttled, not
 * refused: the next one supersedes it). Guards that can answer synchronously should (no promise
 * on the hot path).
 */
export interface Guard {
  readonly name: string;
  check(input: GuardInput): void | Promise<void>;
}

/** Where a message's handling ended. */
export type Stage = 'route' | 'size' | 'schema' | 'guard' | 'handler';

export interface CallOutcome {
  /** The catalogue type, or `unknown` for a type the namespace does not serve (bounded label). */
  readonly type: string;
  readonly rate?: RateClass;
  readonly namespace: NamespaceName;
  readonly stage: Stage;
  /** Undefined when handled successfully. */
  readonly code?: ErrorCode;
  /** Whether the refusal was silent (a throttled stream message). */
  readonly dropped?: boolean;
  /** The guard that refused it. */
  readonly guard?: string;
  /** Seconds the handler took (stage `handler` only). */
  readonly seconds?: number;
}

/** Sees every outcome; must not throw and must be cheap (it runs on every message). */
export interface Observer {
  onOutcome(outcome: CallOutcome): void;
}
