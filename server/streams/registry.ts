import type { FilterScalar, StreamItem, SubscriptionType } from '../../shared/messages/streams';
import type { GatewaySocket } from '../types';
import type { DataEvent } from './data-event';
import type { Matcher, Selector } from './matcher';

/** One subscription of one socket on this pod. */
export interface Subscription {
  readonly id: string;
  /** `data` (seed 003 `subscribe`) or `metric` (seed 004 `subscribe {metrics}`, sending `metric_update`). */
  readonly kind: 'data' | 'metric';
  readonly type: SubscriptionType;
  readonly socket: GatewaySocket;
  readonly matcher: Matcher;
  /**
   * Sends one matching item to the subscriber, in its own event (`data` or `metric_update`);
   * `event` is the item's `data` event, encoded once for every subscriber of this pod.
   */
  deliver(item: StreamItem, event: DataEvent): void;
}

/** Subscriptions keyed by one selector's value: `byValue.get(v)` holds those that accept `v` there. */
interface KeyIndex {
  readonly selector: Selector;
  readonly byValue: Map<FilterScalar, Set<Subscription>>;
}

/** The subscriptions of one stream type. */
interface TypeIndex {
  /** Subscriptions without a clause to key by (no filters): each is tested against every item. */
  readonly unkeyed: Set<Subscription>;
  readonly keyed: Map<string, KeyIndex>;
}

/** Where a subscription sits in its type's index (to take it out again). */
interface Placement {
  readonly key?: string;
  readonly values: readonly FilterScalar[];
}

/**
 * This pod's stream subscriptions, indexed so that delivering an item does not scan every socket:
 * per type, each subscription is keyed by its most selective equality clause (the fewest accepted
 * values; on a tie, a selector the type already uses, so an item costs one lookup per distinct
 * key selector). An item is looked up once per key selector of its type, and only the candidates
 * found (plus the subscriptions without filters) run their full matcher. A subscription keyed by an
 * array of values is found at most once per item: the item has one value at that selector.
 */
export class SubscriptionRegistry {
  private readonly types = new Map<SubscriptionType, TypeIndex>();
  private readonly bySocket = new Map<GatewaySocket, Map<string, Subscription>>();
  private readonly placements = new WeakMap<Subscription, Placement>();

  /** The socket's subscriptions, by id. */
  ofSocket(socket: GatewaySocket): ReadonlyMap<string, Subscription> | undefined {
    return this.bySocket.get(socket);
  }

  /** Subscriptions on this pod. */
  get size(): number {
    let n = 0;
    for (const subs of this.bySocket.values()) n += subs.size;
    return n;
  }

  add(sub: Subscription): void {
    let mine = this.bySocket.get(sub.socket);
    if (!mine) this.bySocket.set(sub.socket, (mine = new Map()));
    mine.set(sub.id, sub);
    let index = this.types.get(sub.type);
    if (!index) this.types.set(sub.type, (index = { unkeyed: new Set(), keyed: new Map() }));
    const key = this.chooseKey(index, sub.matcher);
    if (!key) {
      index.unkeyed.add(sub);
      this.placements.set(sub, { values: [] });
      return;
    }
    let keyIndex = index.keyed.get(key.selector.id);
    if (!keyIndex) index.keyed.set(key.selector.id, (keyIndex = { selector: key.selector, byValue: new Map() }));
    for (const value of key.values) {
      let subs = keyIndex.byValue.get(value);
      if (!subs) keyIndex.byValue.set(value, (subs = new Set()));
      subs.add(sub);
    }
    this.placements.set(sub, { key: key.selector.id, values: key.values });
  }

  /** Takes one subscription out; returns it, or undefined when the socket has none by that id. */
  remove(socket: GatewaySocket, id: string): Subscription | undefined {
    const mine = this.bySocket.get(socket);
    const sub = mine?.get(id);
    if (!mine || !sub) return undefined;
    mine.delete(id);
    if (mine.size === 0) this.bySocket.delete(socket);
    this.unindex(sub);
    return sub;
  }

  /** Takes out every subscription of a socket (it disconnected). */
  removeSocket(socket: GatewaySocket): void {
    const mine = this.bySocket.get(socket);
    if (!mine) return;
    this.bySocket.delete(socket);
    for (const sub of mine.values()) this.unindex(sub);
  }

  /** Calls `fn` once for each local subscription of `type` whose filters match `item`; returns how many. */
  forEachMatch(type: SubscriptionType, item: StreamItem, fn: (sub: Subscription) => void): number {
    const index = this.types.get(type);
    if (!index) return 0;
    let n = 0;
    for (const sub of index.unkeyed) {
      if (sub.matcher.test(item)) (fn(sub), n++);
    }
    for (const keyIndex of index.keyed.values()) {
      const candidates = keyIndex.byValue.get(keyIndex.selector.read(item) as FilterScalar);
      if (!candidates) continue;
      for (const sub of candidates) if (sub.matcher.test(item)) (fn(sub), n++);
    }
    return n;
  }

  private chooseKey(index: TypeIndex, matcher: Matcher) {
    let best: Matcher['clauses'][number] | undefined;
    for (const c of matcher.clauses) {
      if (!best || c.values.length < best.values.length) best = c;
      else if (c.values.length === best.values.length && !index.keyed.has(best.selector.id) && index.keyed.has(c.selector.id)) best = c;
    }
    return best;
  }

  private unindex(sub: Subscription): void {
    const index = this.types.get(sub.type);
    const placement = this.placements.get(sub);
    if (!index || !placement) return;
    this.placements.delete(sub);
    if (placement.key === undefined) {
      index.unkeyed.delete(sub);
    } else {
      const keyIndex = index.keyed.get(placement.key);
      for (const value of placement.values) {
        const subs = keyIndex?.byValue.get(value);
        subs?.delete(sub);
        if (subs?.size === 0) keyIndex!.byValue.delete(value);
      }
      if (keyIndex?.byValue.size === 0) index.keyed.delete(placement.key);
    }
    if (index.unkeyed.size === 0 && index.keyed.size === 0) this.types.delete(sub.type);
  }
}
