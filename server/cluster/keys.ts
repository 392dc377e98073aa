/**
 * How the Redis stores name their keys. On a Redis Cluster a key's slot is decided by its hash tag
 * (the part between `{` and `}`), and a script or a MULTI may only touch keys of one slot: the
 * stores wrap the id that groups keys (a room, a sheet, a user) with `tag()`, so every key of that
 * room, sheet or user lives in one slot. On a single Redis `tag()` returns the id as it is: the key
 * names of a single-Redis deployment are those it always had.
 */
export interface KeySpace {
  /** Whether keys are spread over the slots of a Redis Cluster. */
  readonly cluster: boolean;
  /** `id` as the hash tag of a key on a cluster (`{id}`); `id` itself on a single Redis. */
  tag(id: string): string;
}

/**
 * The tag's content: the id itself when Redis would read it back whole, otherwise `~` and its
 * base64url form (an id with a brace, `}` first or inside, would end the tag early or leave it
 * empty, and an empty tag hashes the whole key, putting one room's keys in different slots). No
 * raw tag starts with `~`, so two ids never share a key.
 */
function tagContent(id: string): string {
  if (id !== '' && !/[{}]/.test(id) && !id.startsWith('~')) return id;
  return `~${Buffer.from(id, 'utf8').toString('base64url')}`;
}

/** One Redis: key names as they always were. */
export const SINGLE_REDIS_KEYS: KeySpace = Object.freeze({ cluster: false, tag: (id: string) => id });

/** A Redis Cluster: `{id}` hash tags. */
export const CLUSTER_KEYS: KeySpace = Object.freeze({ cluster: true, tag: (id: string) => `{${tagContent(id)}}` });
