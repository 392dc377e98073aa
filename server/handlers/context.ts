import type { ClientMessageType, ClientPayload, ServerMessageType } from '../../shared/catalogue';
import type { Principal } from '../auth/principal';
import type { PodActivity } from '../cluster/activity';
import type { Stores } from '../cluster/stores';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { RoomBroadcaster } from '../rooms';
import type { GatewayServer, GatewaySocket } from '../types';

/** The fields a handler adds to a successful ack (`{ok: true, ...}`). */
export type AckData = Record<string, unknown>;

/** One incoming message's circumstances, the same for Socket.IO and native clients. */
export interface Call {
  readonly socket: GatewaySocket;
  readonly principal: Principal;
  /** A child logger carrying the socket id and user id, made on first use. */
  readonly log: Logger;
}

export type MessageHandler<T extends ClientMessageType> = (
  payload: ClientPayload<T>,
  call: Call,
) => AckData | void | Promise<AckData | void>;

export type DisconnectListener = (socket: GatewaySocket) => void | Promise<void>;

/** What a feature must release when the gateway stops (timers, subscriptions). */
export type Dispose = () => void | Promise<void>;

export interface HandleOptions {
  readonly replyEvent?: ServerMessageType;
}

/** What every feature module receives. */
export interface FeatureContext {
  readonly io: GatewayServer;
  readonly stores: Stores;
  readonly logger: Logger;
  readonly config: Config;
  readonly rooms: RoomBroadcaster;
  readonly activity: PodActivity;
  /**
   * Serves a message type on every namespace that accepts it; the payload arrives validated. What
   * the handler returns is the ack `{ok: true, ...}`; with `replyEvent`, a client that sent no ack
   * callback gets it as that event instead (request/response messages such as sheet_state).
   */
  handle<T extends ClientMessageType>(type: T, handler: MessageHandler<T>, options?: HandleOptions): void;
  /** Runs when a socket goes, while its rooms are still known; awaited before shutdown completes. */
  onDisconnect(listener: DisconnectListener): void;
}

/** A feature module's one export. */
export type Feature = (ctx: FeatureContext) => Dispose | void;
