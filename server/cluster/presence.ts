import type { Cursor, UserStatus } from '../../shared/messages/define';
import type { PresenceUser } from '../../shared/messages/presence';

/**
 * Cluster-wide presence: who is in which room, on every pod. One entry per connection; a room
 * lists each user once, however many tabs. Implementations: in-memory (one pod) and Redis.
 */
export interface PresenceMember {
  readonly userId: string;
  readonly username: string;
  readonly email?: string;
}

export interface PresencePatch {
  status?: UserStatus;
  cursor?: Cursor;
}

export interface RoomSummary {
  readonly room: string;
  readonly userCount: number;
}

/** A room whose entries the reaper removed, with the users who have no connection left in it. */
export interface ReapedRoom {
  readonly room: string;
  readonly goneUsers: ReadonlyArray<{ readonly userId: string; readonly username: string }>;
}

export interface PresenceStore {
  /** Adds connection `connId` of `member` to `room`; true when it is the user's first there. */
  join(room: string, connId: string, member: PresenceMember): Promise<boolean>;
  /** Removes connection `connId` from `room`; true when the user has no connection left there. */
  leave(room: string, connId: string): Promise<boolean>;
  /** Updates status or cursor of connection `connId` in `room`; no-op when it is not there. */
  update(room: string, connId: string, patch: PresencePatch): Promise<void>;
  /**
   * Users in `room` on every live pod, once each; at most `limit` of them when given (a bounded
   * sample for very large rooms, whose cost must not grow with the room).
   */
  list(room: string, limit?: number): Promise<PresenceUser[]>;
  /** How many distinct users are in `room`, in constant time. */
  count(room: string): Promise<number>;
  /** Every room with at least one user, on every live pod. */
  rooms(): Promise<RoomSummary[]>;
  /** Marks this pod alive; called every heartbeat interval. */
  heartbeat(): Promise<void>;
  /** Removes the entries of pods that stopped heartbeating; returns the rooms that changed. */
  reap(): Promise<ReapedRoom[]>;
  /** Removes this pod from the registry (graceful shutdown, after its connections left). */
  close(): Promise<void>;
}

/** One connection's entry as stored. Times are epoch milliseconds. */
export interface PresenceEntry {
  user_id: string;
  username: string;
  email?: string;
  status: UserStatus;
  status_at: number;
  cursor: Cursor | null;
  cursor_at: number;
  last_seen: number;
}

export function newEntry(member: PresenceMember, now: number): PresenceEntry {
  return {
    user_id: member.userId,
    username: member.username,
    email: member.email,
    status: 'online',
    status_at: 0,
    cursor: null,
    cursor_at: 0,
    last_seen: now,
  };
}

export function applyPatch(entry: PresenceEntry, patch: PresencePatch, now: number): PresenceEntry {
  const next = { ...entry, last_seen: now };
  if (patch.status) Object.assign(next, { status: patch.status, status_at: now });
  if (patch.cursor) Object.assign(next, { cursor: patch.cursor, cursor_at: now });
  return next;
}

/**
 * Folds connection entries into one row per user: the latest status and cursor set from any of the
 * user's connections, the latest activity as last_seen. Sorted by user id for stable output.
 */
export function mergeEntries(room: string, entries: Iterable<PresenceEntry>): PresenceUser[] {
  const byUser = new Map<string, PresenceEntry>();
  for (const e of entries) {
    const seen = byUser.get(e.user_id);
    if (!seen) {
      byUser.set(e.user_id, { ...e });
      continue;
    }
    if (e.status_at > seen.status_at) Object.assign(seen, { status: e.status, status_at: e.status_at });
    if (e.cursor_at > seen.cursor_at) Object.assign(seen, { cursor: e.cursor, cursor_at: e.cursor_at });
    seen.last_seen = Math.max(seen.last_seen, e.last_seen);
  }
  return [...byUser.values()]
    .sort((a, b) => (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0))
    .map((e) => ({
      user_id: e.user_id,
      username: e.username,
      ...(e.email !== undefined ? { email: e.email } : {}),
      room,
      status: e.status,
      cursor: e.cursor,
      last_seen: new Date(e.last_seen).toISOString(),
    }));
}

interface MemoryRoom {
  readonly conns: Map<string, PresenceEntry>;
  /** Connections per user. */
  readonly users: Map<string, number>;
}

/** The one-pod twin: everything lives in this process. */
export class MemoryPresenceStore implements PresenceStore {
  private readonly rooms_ = new Map<string, MemoryRoom>();

  constructor(private readonly now: () => number = Date.now) {}

  async join(room: string, connId: string, member: PresenceMember): Promise<boolean> {
    let r = this.rooms_.get(room);
    if (!r) this.rooms_.set(room, (r = { conns: new Map(), users: new Map() }));
    if (r.conns.has(connId)) return false;
    r.conns.set(connId, newEntry(member, this.now()));
    const n = (r.users.get(member.userId) ?? 0) + 1;
    r.users.set(member.userId, n);
    return n === 1;
  }

  async leave(room: string, connId: string): Promise<boolean> {
    const r = this.rooms_.get(room);
    const entry = r?.conns.get(connId);
    if (!r || !entry) return false;
    r.conns.delete(connId);
    if (r.conns.size === 0) this.rooms_.delete(room);
    const n = (r.users.get(entry.user_id) ?? 1) - 1;
    if (n > 0) r.users.set(entry.user_id, n);
    else r.users.delete(entry.user_id);
    return n <= 0;
  }

  async update(room: string, connId: string, patch: PresencePatch): Promise<void> {
    const conns = this.rooms_.get(room)?.conns;
    const entry = conns?.get(connId);
    if (conns && entry) conns.set(connId, applyPatch(entry, patch, this.now()));
  }

  async list(room: string, limit = Infinity): Promise<PresenceUser[]> {
    const r = this.rooms_.get(room);
    if (!r) return [];
    if (r.users.size <= limit) return mergeEntries(room, r.conns.values());
    const sample = new Set<string>();
    for (const userId of r.users.keys()) {
      if (sample.size >= limit) break;
      sample.add(userId);
    }
    const entries: PresenceEntry[] = [];
    for (const e of r.conns.values()) if (sample.has(e.user_id)) entries.push(e);
    return mergeEntries(room, entries);
  }

  async count(room: string): Promise<number> {
    return this.rooms_.get(room)?.users.size ?? 0;
  }

  async rooms(): Promise<RoomSummary[]> {
    return [...this.rooms_].map(([room, r]) => ({ room, userCount: r.users.size }));
  }

  async heartbeat(): Promise<void> {}

  async reap(): Promise<ReapedRoom[]> {
    return [];
  }

  async close(): Promise<void> {
    this.rooms_.clear();
  }
}
