import type { ServerMessageType, ServerPayload } from '../../../shared/catalogue';
import type { GatewayError } from './errors';

/** What a (re)connection reached. */
export interface ConnectInfo {
  /** The URL it reached (the pod's base URL or the endpoint). */
  readonly url: string;
  /** False for the first connection of the client, true for every later one. */
  readonly reconnect: boolean;
}

export interface DisconnectInfo {
  /** `transport close`, `ping timeout`, `io server disconnect`, a native close reason, ... */
  readonly reason: string;
  /** The WebSocket close code (native clients). */
  readonly code?: number;
}

/** The client's own events, besides the server's. */
export interface LifecycleEvents {
  connect: (info: ConnectInfo) => void;
  disconnect: (info: DisconnectInfo) => void;
  /** A reconnection is scheduled in `delayMs` (exponential backoff with jitter). */
  reconnect_attempt: (info: { readonly attempt: number; readonly delayMs: number }) => void;
  /** `maxReconnectAttempts` failed in a row: the client gave up and is closed. */
  reconnect_failed: (info: { readonly attempts: number }) => void;
  /** An attempt failed: a refused handshake (GatewayError with its code) or a transport error. */
  connect_error: (error: Error) => void;
  /** A message queued while offline was dropped because the queue was full. */
  dropped: (message: { readonly type: string; readonly volatile: boolean }) => void;
  /** The live connection's token was replaced (after `token_expiring`). */
  token_refreshed: (info: { readonly expiresAt: string | null }) => void;
  /** An error the gateway sent that answers no request of this client (a failed `send`, an expiry). */
  error: (error: GatewayError) => void;
}

/** The server's events, typed by the catalogue. */
export type ServerEvents = { [K in ServerMessageType]: (payload: ServerPayload<K>) => void };

/** Everything a client emits: the catalogue's server events and its lifecycle events. */
export type ClientEvents = ServerEvents & LifecycleEvents;

/** Compile-time guard: no server event may share a name with a lifecycle event (this fails to compile if one does). */
type Never<T extends never> = T;
export type NoLifecycleNameClash = Never<Extract<ServerMessageType, keyof LifecycleEvents>>;
