import type { Config } from '../config';
import type { Logger } from '../logger';
import { MemoryPresenceStore, type PresenceStore } from './presence';
import type { RedisConnections } from './redis';
import { RedisPresenceStore } from './redis-presence';

/** The state the pods share. In-memory without Redis (one pod), Redis-backed with it. */
export interface Stores {
  readonly presence: PresenceStore;
}

export function createStores(config: Config, redis?: RedisConnections, logger?: Logger): Stores {
  if (!redis) return { presence: new MemoryPresenceStore() };
  const presence = new RedisPresenceStore(redis.data, config.podId, config.presence.ttlMs);
  redis.onRestored(() => {
    presence.resync().catch((err) => logger?.warn('presence resync failed', { module: 'stores', error: String(err) }));
  });
  return { presence };
}
