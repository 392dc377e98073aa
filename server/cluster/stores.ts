import type { Config } from '../config';
import { MemoryPresenceStore, type PresenceStore } from './presence';
import type { RedisConnections } from './redis';
import { RedisPresenceStore } from './redis-presence';

/** The state the pods share. In-memory without Redis (one pod), Redis-backed with it. */
export interface Stores {
  readonly presence: PresenceStore;
}

export function createStores(config: Config, redis?: RedisConnections): Stores {
  if (!redis) return { presence: new MemoryPresenceStore() };
  return { presence: new RedisPresenceStore(redis.data, config.podId, config.presence.ttlMs) };
}
