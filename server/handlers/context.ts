import type { AckFields, ClientMessageType, ClientPayload, ServerMessageType, ServerPayload } from '../../shared/catalogue';
import type { GatewayError } from '../../shared/errors';
import type { Principal } from '../auth/principal';
import type { TokenVerifier } from '../auth/verify';
import type { PodActivity } from '../cluster/activity';
import type { ConnectionControl } from '../cluster/control';
import type { Limits } from '../cluster/limits';
import type { Stores } from '../cluster/stores';
import type { Router } from 'express';
import type { RedisConnections } from '../cluster/redis';
import type { ClusterStats } from '../cluster/stats';
import type { Config } from '../config';
import type { AdminGuard } from '../http/admin';
import type { Logger } from '../logger';
import type { GatewayMetrics } from '../metrics';
import type { Guard, Observer } from '../pipeline';
import type { RoomBroadcaster } from '../rooms';
import type { GatewayServer, GatewaySocket } from '../types';

/** The fields a handler adds to a successful ack (`{ok: true, ...}`). */
export type AckData = Record<string, unknown>;

/** One incoming message's circumstances, the same for Socket.IO and native clients. */
export interface Call {
  readonly socket: GatewaySocket;
  readonly principal: Principal;
  /** The message type being handled. */
  readonly type: string;
  /** A child logger carrying the socket id and user id, made on first use. */
  readonly log: Logger;
  /**
   * Aborted when the caller disconnects or the pod shuts down (after SHUTDOWN_TIMEOUT_MS of
   * draining): pass it to every upstream request, stream or timer the handler starts.
   */
  readonly signal: AbortSignal;
  /** Sends a server event to the caller only (its socket in this namespace). */
  emit<E extends ServerMessageType>(event: E, payload: ServerPayload<E>): void;
}

export type MessageHandler<T extends ClientMessageType> = (
  payload: ClientPayload<T>,
  call: Call,
) => AckFields<T> | void | Promise<AckFields<T> | void>;

export type ConnectListener = (socket: GatewaySocket) => void | Promise<void>;
export type DisconnectListener = (socket: GatewaySocket) => void | Promise<void>;

/** What a feature must release when the gateway stops (timers, subscriptions). */
export type Dispose = () => void | Promise<void>;

/** What every feature module receives. */
export interface FeatureContext {
  readonly io: GatewayServer;
  readonly stores: Stores;
  readonly limits: Limits;
  readonly logger: Logger;
  readonly config: Config;
  readonly rooms: RoomBroadcaster;
  readonly activity: PodActivity;
  readonly metrics: GatewayMetrics;
  /** Verifies a JWT into a principal (throws AUTHENTICATION_FAILED). */
  readonly verify: TokenVerifier;
  /** Closes connections on any pod (a user's, a room's) with an error the clients are told. */
  readonly control: ConnectionControl;
  /**
   * Serves a message type on every namespace that accepts it; the payload arrives validated and
   * guarded. What the handler returns is the ack `{ok: true, ...}` (or, for a client that sent no
   * ack callback, the catalogue's `reply` event when the type declares one); what it throws goes
   * out as the error. Every catalogue type must have exactly one handler (checked at start-up).
   */
  handle<T extends ClientMessageType>(type: T, handler: MessageHandler<T>): void;
  /** Serves a message type outside the catalogue (RPC_ROUTES): any JSON object, request class, on `/`. */
  handleCustom(type: string, handler: (payload: Record<string, unknown>, call: Call) => Promise<AckData | void>): void;
  /** Runs for every socket that connects to a namespace, after authentication. */
  onConnect(listener: ConnectListener): void;
  /** Runs when a socket goes, while its rooms are still known; awaited before shutdown completes. */
  onDisconnect(listener: DisconnectListener): void;
  /**
   * Shutdown, before the transports close: long-running work (AI streams) gets `timeoutMs` to
   * finish and then ends itself, telling its clients while they are still connected.
   */
  onDrain(listener: (timeoutMs: number) => Promise<void>): void;
  /** Whether other pods share the adapter (Redis): cross-pod orders travel only then. */
  readonly clustered: boolean;
  /** The Redis connections (for features that subscribe to their own channels); undefined on one pod without Redis. */
  readonly redis?: RedisConnections;
  /** Where a feature mounts its HTTP routes (mounted on the gateway's Express app). */
  readonly http: Router;
  /** The admin REST API's guard: admin JWT or ADMIN_API_KEY (server/http/admin.ts). */
  readonly requireAdmin: AdminGuard;
  /** This pod's own figures and the cluster's (stats endpoints). */
  readonly stats: ClusterStats;
  /** Starts this pod's graceful shutdown (as SIGTERM does); the process exits when it completes. */
  shutdown(): void;
  /** Adds a check run before every handler (in registration order). */
  guard(guard: Guard): void;
  /** Adds an observer of every message outcome. */
  observe(observer: Observer): void;
  /** Ends one socket's connection with an error (see server/disconnect.ts). */
  disconnect(socket: GatewaySocket, err: GatewayError): void;
}

/** A feature module's one export. */
export type Feature = (ctx: FeatureContext) => Dispose | void;
