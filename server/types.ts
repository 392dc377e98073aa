import type { Namespace, Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../shared/catalogue';
import type { Principal } from './auth/principal';
import type { SocketCall } from './call';
import type { ActivitySnapshot } from './cluster/activity';
import type { StoredNotification } from './cluster/notifications';
import type { AdminUiSocket } from './admin-ui/describe';

/** What each socket carries after the handshake. */
export interface SocketData {
  principal: Principal;
  /**
   * The raw token the principal came from, forwarded to backends as the caller's identity
   * (`Authorization: Bearer`); replaced by `refresh_token`. Never logged.
   */
  token: string;
  /** Client room ids this socket joined (created on first join). */
  rooms?: Set<string>;
  /** Collaboration sessions this socket joined, with its role in each (created on first join). */
  sessions?: Map<string, string>;
  /** Asynchronous calls of this socket under way (the in-flight bound; aborted on disconnect). */
  calls?: Set<SocketCall>;
}

/** One pod's answer to the cluster-wide stats request. */
export interface PodStats {
  readonly pod: string;
  readonly connections: number;
  readonly authenticated: number;
  readonly uptimeSeconds: number;
  readonly activity: ActivitySnapshot;
}

/** Requests between pods, carried by the adapter (`io.serverSideEmitWithAck`). */
export interface InterServerEvents {
  'gateway:stats': (reply: (stats: PodStats) => void) => void;
  /** Close local connections in a room (see server/cluster/control.ts). */
  'gateway:close': (order: CloseOrder) => void;
  /** Cancel a user's AI stream on whichever pod runs it (server/ai/streams.ts). */
  'gateway:ai_cancel': (order: { userId: string; requestId?: string; correlation?: string | number }) => void;
  /** A notification just stored: deliver it to this pod's matching subscribers (server/handlers/notifications.ts). */
  'gateway:notification': (notification: StoredNotification) => void;
  /** An admin UI is open somewhere: send it live socket events for a while (server/handlers/admin-ui.ts). */
  'gateway:admin_ui_watch': () => void;
  /** The admin UI's socket list: every pod describes its own sockets. */
  'gateway:admin_ui_sockets': (reply: (sockets: AdminUiSocket[]) => void) => void;
}

/** An order to every pod: close the connections in `room` (but `except`, and only those older than `olderThan`). */
export interface CloseOrder {
  readonly room: string;
  readonly code: string;
  readonly message: string;
  readonly except?: string;
  /** Connection start (ms) and socket id of the newer connection: older ones are closed (ties broken by id). */
  readonly olderThan?: { readonly at: number; readonly id: string };
}

export type GatewayServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type GatewayNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type GatewaySocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
