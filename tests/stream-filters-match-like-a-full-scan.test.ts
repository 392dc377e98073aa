// The per-pod subscription index (server/streams/registry.ts) must find exactly the subscriptions a
// full scan with seed 003's filter rule would find: every filter matches, by dot path, exact values,
// an array matching any of its values. Checked against a naive reference on random filters/items.
import type { StreamFilters, StreamItem } from '../shared/messages/streams';
import { compileFilters } from '../server/streams/matcher';
import { SubscriptionRegistry, type Subscription } from '../server/streams/registry';
import type { GatewaySocket } from '../server/types';

/** The rule as seed 003 states it, written as plainly as possible. */
function reference(filters: StreamFilters, item: StreamItem): boolean {
  return Object.entries(filters).every(([path, expected]) => {
    let value: unknown = item;
    for (const segment of path.split('.')) {
      value = typeof value === 'object' && value !== null && Object.prototype.hasOwnProperty.call(value, segment) ? (value as any)[segment] : undefined;
    }
    return Array.isArray(expected) ? expected.some((e) => e === value) : expected === value;
  });
}

/** A small deterministic PRNG (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PATHS = ['event_type', 'user_id', 'payload.user_id', 'payload.device.os', 'score', 'flag'];
const VALUES: Array<string | number | boolean | null> = ['login', 'purchase', 'user123', 'user456', 'ios', 1, 2, '1', true, false, null];

function randomFilters(rand: () => number): StreamFilters {
  const filters: StreamFilters = {};
  const count = Math.floor(rand() * 4); // 0 to 3 filters
  for (let i = 0; i < count; i++) {
    const path = PATHS[Math.floor(rand() * PATHS.length)];
    const pick = () => VALUES[Math.floor(rand() * VALUES.length)];
    filters[path] = rand() < 0.4 ? Array.from({ length: 1 + Math.floor(rand() * 12) }, pick) : pick();
  }
  return filters;
}

function randomItem(rand: () => number): StreamItem {
  const pick = () => (rand() < 0.15 ? { nested: true } : VALUES[Math.floor(rand() * VALUES.length)]);
  const item: StreamItem = {};
  for (const path of PATHS) {
    if (rand() < 0.25) continue;
    const segments = path.split('.');
    let target: any = item;
    for (const segment of segments.slice(0, -1)) {
      if (typeof target[segment] !== 'object' || target[segment] === null) target[segment] = rand() < 0.1 ? 'scalar' : {};
      target = target[segment];
      if (typeof target !== 'object') break;
    }
    if (typeof target === 'object') target[segments[segments.length - 1]] = pick();
  }
  return item;
}

it('finds exactly the subscriptions a full scan finds, as subscriptions come and go', () => {
  const rand = random(20240101);
  const registry = new SubscriptionRegistry();
  const live = new Map<string, { sub: Subscription; filters: StreamFilters }>();
  const sockets = Array.from({ length: 20 }, (_, i) => ({ id: `s${i}` }) as unknown as GatewaySocket);
  let next = 0;
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 25; i++) {
      const filters = randomFilters(rand);
      const socket = sockets[Math.floor(rand() * sockets.length)];
      const sub: Subscription = { id: `sub${next++}`, kind: 'data', type: 'events', socket, matcher: compileFilters(filters), deliver: () => undefined };
      registry.add(sub);
      live.set(sub.id, { sub, filters });
    }
    for (const [id, { sub }] of [...live]) {
      if (rand() < 0.3) {
        expect(registry.remove(sub.socket, id)).toBe(sub);
        live.delete(id);
      }
    }
    if (round % 10 === 9) {
      const gone = sockets[round % sockets.length];
      registry.removeSocket(gone);
      for (const [id, { sub }] of [...live]) if (sub.socket === gone) live.delete(id);
    }
    expect(registry.size).toBe(live.size);
    for (let i = 0; i < 50; i++) {
      const item = randomItem(rand);
      const found: string[] = [];
      const count = registry.forEachMatch('events', item, (sub) => found.push(sub.id));
      const expected = [...live.values()].filter(({ filters }) => reference(filters, item)).map(({ sub }) => sub.id);
      expect(found.sort()).toEqual(expected.sort());
      expect(count).toBe(found.length);
      expect(registry.forEachMatch('alerts', item, () => undefined)).toBe(0);
    }
  }
  for (const { sub } of live.values()) registry.remove(sub.socket, sub.id);
  expect(registry.size).toBe(0);
});
