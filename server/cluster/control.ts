import type { Server } from 'socket.io';
import { ErrorCodes, GatewayError, isErrorCode } from '../../shared/errors';
import { AllNamespaces } from '../../shared/namespaces';
import type { PodDetailedStats } from '../../shared/rest';
import { closeConnection, disconnectWith } from '../disconnect';
import type { Logger } from '../logger';
import type { CloseOrder, GatewayServer, GatewaySocket } from '../types';

/**
 * Closes connections wherever they are: an order goes to this pod and, through the adapter's
 * server-side events, to every other pod, which each close their own sockets in the room with the
 * error (told to the client, then the connection closed with the error's close code). Used for a
 * user's connections (admin revocation) and for seed 000's one connection per user. One connection
 * by id is closed here with `closeLocalConnection`; AdminRequests finds the pod that holds it.
 */
export class ConnectionControl {
  private readonly log: Logger;

  constructor(
    private readonly io: GatewayServer,
    logger: Logger,
    /** Whether other pods share the adapter (Redis): only then do orders travel. */
    private readonly clustered: boolean,
  ) {
    this.log = logger.child({ module: 'control' });
    io.on('gateway:close', (order) => this.apply(order));
  }

  /** Closes every connection in `room` on every pod; resolves with how many this pod closed. */
  closeRoom(room: string, err: GatewayError, options: { except?: string; olderThan?: { at: number; id: string } } = {}): number {
    const order: CloseOrder = { room, code: err.code, message: err.message, ...options };
    if (this.clustered) {
      try {
        this.io.serverSideEmit('gateway:close', order);
      } catch (e) {
        this.log.warn('close order not sent to the other pods', { error: String(e) });
      }
    }
    return this.apply(order);
  }

  /**
   * Closes the connection with this id if this pod holds it: an Engine.IO connection id (a native
   * connection's too) or the id of one of its Socket.IO sockets (a v4 client knows only its socket
   * ids; a v2 client's are `<namespace>#<connection id>`). The client is told why on one of its
   * sockets (`error` event, a native dialect's error frame), then the whole connection closes (a
   * native one with the error's close code). Returns whether this pod held it.
   */
  closeLocalConnection(connectionId: string, err: GatewayError): boolean {
    const clients = (this.io.engine as unknown as { clients: Record<string, GatewaySocket['conn']> }).clients;
    let conn = Object.prototype.hasOwnProperty.call(clients, connectionId) ? clients[connectionId] : undefined;
    let socket: GatewaySocket | undefined;
    for (const name of AllNamespaces) {
      const nsp = this.io._nsps.get(name);
      if (!nsp) continue;
      if (conn === undefined) {
        socket = nsp.sockets.get(connectionId);
        if (socket) conn = socket.conn;
      } else {
        // A socket of the connection to tell the client why (an admin operation: one pass over the pod's sockets is fine).
        for (const candidate of nsp.sockets.values()) {
          if (candidate.conn === conn) {
            socket = candidate;
            break;
          }
        }
      }
      if (socket) break;
    }
    if (conn === undefined) return false;
    if (socket) disconnectWith(socket, err);
    // Not in any namespace yet (a native client still authenticating): closed without a message.
    else closeConnection(conn, err);
    return true;
  }

  private apply(order: CloseOrder): number {
    const code = isErrorCode(order.code) ? order.code : ErrorCodes.INTERNAL_ERROR;
    const err = new GatewayError(code, order.message);
    const targets = new Set<GatewaySocket>();
    for (const name of AllNamespaces) {
      const nsp = this.io._nsps.get(name);
      const ids = nsp?.adapter.rooms.get(order.room);
      if (!nsp || !ids) continue;
      for (const id of ids) {
        const socket = nsp.sockets.get(id);
        if (socket && id !== order.except && isOlder(socket, order.olderThan)) targets.add(socket);
      }
    }
    // One socket per connection: closing it closes the connection's other namespaces too.
    const conns = new Set<unknown>();
    for (const socket of targets) {
      if (conns.has(socket.conn)) continue;
      conns.add(socket.conn);
      disconnectWith(socket, err);
    }
    return conns.size;
  }
}

/** Whether a socket connected before the reference connection (ties broken by socket id). */
function isOlder(socket: GatewaySocket, ref: CloseOrder['olderThan']): boolean {
  if (!ref) return true;
  if (socket.id === ref.id) return false;
  const at = socket.handshake.issued;
  return at < ref.at || (at === ref.at && socket.id < ref.id);
}

/**
 * The admin API's requests between pods, carried by the adapter like `gateway:stats`. (When these
 * join InterServerEvents in server/types.ts, the typed view below is no longer needed.)
 */
export interface AdminServerEvents {
  /** Close one connection by id on whichever pod holds it; that pod answers with its id, the others with null. */
  'gateway:close_connection': (order: { connectionId: string; code: string; message: string }, reply: (pod: string | null) => void) => void;
  /** Each pod's count of local sockets in a room, every namespace together. */
  'gateway:count_room': (room: string, reply: (sockets: number) => void) => void;
  /** Each pod's detailed figures (GET /api/v1/ws/stats/detailed). */
  'gateway:stats_detailed': (reply: (stats: PodDetailedStats) => void) => void;
}

type AdminPeers = Server<Record<string, never>, Record<string, never>, AdminServerEvents>;

/** What this pod answers with. */
export interface LocalAnswers {
  readonly podId: string;
  detailedStats(): Promise<PodDetailedStats>;
}

/** Every pod's answers to one request; `partial` when some pod did not answer within the adapter's requestsTimeout (STATS_TIMEOUT_MS). */
export interface ClusterAnswers<T> {
  readonly answers: T[];
  readonly partial: boolean;
}

/**
 * The cluster-wide questions of the admin REST API: this pod answers its own part directly and the
 * others through `serverSideEmitWithAck` (one round trip, whatever the number of pods). Without
 * Redis there is one pod and no request. A pod that does not answer in time makes the result
 * partial, never an error: an admin looking at a sick cluster still gets what did arrive.
 */
export class AdminRequests {
  private readonly peers: AdminPeers;
  private readonly log: Logger;
  private readonly listeners: { [E in keyof AdminServerEvents]: AdminServerEvents[E] };

  constructor(
    private readonly io: GatewayServer,
    private readonly control: ConnectionControl,
    private readonly clustered: boolean,
    private readonly local: LocalAnswers,
    logger: Logger,
  ) {
    this.peers = io as unknown as AdminPeers;
    this.log = logger.child({ module: 'admin-requests' });
    this.listeners = {
      'gateway:close_connection': (order, reply) =>
        reply(typeof order?.connectionId === 'string' && this.closeHere(order.connectionId, order.code, String(order.message)) ? local.podId : null),
      'gateway:count_room': (room, reply) => reply(typeof room === 'string' ? countLocal(io, room) : 0),
      'gateway:stats_detailed': (reply) => {
        local.detailedStats().then(reply, (err) => this.log.warn('detailed stats failed', { error: String(err) }));
      },
    };
    if (clustered) for (const [event, listener] of Object.entries(this.listeners)) this.peers.on(event as keyof AdminServerEvents, listener);
  }

  /** Stops answering the other pods (the gateway is stopping). */
  dispose(): void {
    if (this.clustered) for (const [event, listener] of Object.entries(this.listeners)) this.peers.off(event as keyof AdminServerEvents, listener);
  }

  /**
   * Closes a connection wherever it is; resolves with the pod that held it (undefined if none did)
   * and whether some pod did not answer (then "none" is not certain).
   */
  async closeConnection(connectionId: string, err: GatewayError): Promise<{ pod?: string; partial: boolean }> {
    if (this.closeHere(connectionId, err.code, err.message)) return { pod: this.local.podId, partial: false };
    const { answers, partial } = await this.ask<string | null>('gateway:close_connection', { connectionId, code: err.code, message: err.message });
    return { pod: answers.find((pod): pod is string => typeof pod === 'string'), partial };
  }

  /** Sockets in `room` on every pod (every namespace). */
  async countRoom(room: string): Promise<{ sockets: number; partial: boolean }> {
    const mine = countLocal(this.io, room);
    const { answers, partial } = await this.ask<number>('gateway:count_room', room);
    return { sockets: answers.reduce((n, c) => n + (Number.isInteger(c) && c > 0 ? c : 0), mine), partial };
  }

  /** Every pod's detailed figures, this pod's first. */
  async detailedStats(): Promise<ClusterAnswers<PodDetailedStats>> {
    const [mine, others] = await Promise.all([this.local.detailedStats(), this.ask<PodDetailedStats>('gateway:stats_detailed')]);
    return { answers: [mine, ...others.answers], partial: others.partial };
  }

  private closeHere(connectionId: string, code: string, message: string): boolean {
    return this.control.closeLocalConnection(connectionId, new GatewayError(isErrorCode(code) ? code : ErrorCodes.INTERNAL_ERROR, message));
  }

  private async ask<T>(event: keyof AdminServerEvents, ...args: unknown[]): Promise<ClusterAnswers<T>> {
    if (!this.clustered) return { answers: [], partial: false };
    const emit = this.peers.serverSideEmitWithAck as unknown as (ev: string, ...a: unknown[]) => Promise<T[]>;
    try {
      return { answers: await emit.call(this.peers, event, ...args), partial: false };
    } catch (err) {
      // The adapter's timeout passed: keep the answers that did arrive.
      return { answers: (err as { responses?: T[] }).responses ?? [], partial: true };
    }
  }
}

/** Sockets of this pod in `room`, every namespace together (reads the adapters' local room maps). */
function countLocal(io: GatewayServer, room: string): number {
  let sockets = 0;
  for (const name of AllNamespaces) sockets += io._nsps.get(name)?.adapter.rooms.get(room)?.size ?? 0;
  return sockets;
}
