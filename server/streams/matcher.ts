import type { FilterScalar, FilterValue, StreamFilters, StreamItem } from '../../shared/messages/streams';

/**
 * Reads one value out of an item: a dot path (`payload.user_id`), or a rule of its own (seed 004's
 * metric name, `metric` or `name`). `id` names what it reads, so an index can share one lookup
 * among every subscription keyed by the same selector.
 */
export interface Selector {
  readonly id: string;
  read(item: StreamItem): unknown;
}

/** One filter: the item's value at `selector` must be one of `values`. */
export interface Clause {
  readonly selector: Selector;
  readonly values: readonly FilterScalar[];
  accepts(value: unknown): boolean;
}

/** A subscription's filters, compiled once when it subscribes (never re-parsed per item). */
export interface Matcher {
  /** Every clause accepts the item (and any extra condition holds). */
  test(item: StreamItem): boolean;
  /** The clauses, so an index can key the subscription by one of them. */
  readonly clauses: readonly Clause[];
}

/** Arrays up to this size are scanned; longer ones become a Set. */
const SCAN_LIMIT = 8;

/**
 * The value at a path of segments, own properties only: a path never reaches a prototype (the
 * catalogue also refuses `__proto__`, `prototype` and `constructor` segments).
 */
export function valueAt(record: unknown, segments: readonly string[]): unknown {
  let value = record;
  for (const segment of segments) {
    if (typeof value !== 'object' || value === null || !Object.prototype.hasOwnProperty.call(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** A dot-path selector; its id is the path itself. */
export function pathSelector(path: string): Selector {
  const segments = path.split('.');
  if (segments.length === 1) {
    const [field] = segments;
    return { id: path, read: (item) => (Object.prototype.hasOwnProperty.call(item, field) ? item[field] : undefined) };
  }
  return { id: path, read: (item) => valueAt(item, segments) };
}

/**
 * A clause accepting exact values (seed 003: "exact matches only"; an array matches any of its
 * values). Comparison is `===`: the string "1" does not match the number 1.
 */
export function clause(selector: Selector, expected: FilterValue): Clause {
  const values: readonly FilterScalar[] = Array.isArray(expected) ? expected : [expected];
  if (values.length === 1) {
    const [only] = values;
    return { selector, values, accepts: (v) => v === only };
  }
  if (values.length <= SCAN_LIMIT) return { selector, values, accepts: (v) => values.includes(v as FilterScalar) };
  const set = new Set<unknown>(values);
  return { selector, values, accepts: (v) => set.has(v) };
}

/** Compiles clauses (and an optional extra condition) into one matcher: every clause must accept. */
export function matcherOf(clauses: readonly Clause[], extra?: (item: StreamItem) => boolean): Matcher {
  const test = (item: StreamItem): boolean => {
    for (const c of clauses) if (!c.accepts(c.selector.read(item))) return false;
    return extra ? extra(item) : true;
  };
  return { test, clauses };
}

/** Seed 003 filters (dot paths, arrays of accepted values) compiled into a matcher. */
export function compileFilters(filters: StreamFilters): Matcher {
  return matcherOf(Object.entries(filters).map(([path, expected]) => clause(pathSelector(path), expected)));
}
