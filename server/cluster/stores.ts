import type { Config } from '../config';
import type { Logger } from '../logger';
import { MemoryCellStore, RedisCellStore, type CellStore } from './cells';
import { MemoryChatHistory, RedisChatHistory, type ChatHistory } from './chat-history';
import { MemoryNotificationStore, RedisNotificationStore, type NotificationStore } from './notifications';
import { MemoryPresenceStore, type PresenceStore } from './presence';
import type { RedisConnections } from './redis';
import { RedisPresenceStore } from './redis-presence';
import { MemorySessionStore, RedisSessionStore, type SessionStore } from './sessions';
import { MemoryUploadRegistry, RedisUploadRegistry, type UploadRegistry } from './uploads';

/** The state the pods share. In-memory without Redis (one pod), Redis-backed with it. */
export interface Stores {
  readonly presence: PresenceStore;
  readonly cells: CellStore;
  readonly sessions: SessionStore;
  readonly chat: ChatHistory;
  readonly notifications: NotificationStore;
  readonly uploads: UploadRegistry;
}

export function createStores(config: Config, redis?: RedisConnections, logger?: Logger): Stores {
  if (!redis) {
    return {
      presence: new MemoryPresenceStore(),
      cells: new MemoryCellStore(),
      sessions: new MemorySessionStore(),
      chat: new MemoryChatHistory(config.chatHistoryCap),
      notifications: new MemoryNotificationStore(config.publishing.notificationsCap),
      uploads: new MemoryUploadRegistry(),
    };
  }
  // The key names fit the deployment: hash-tagged on a Redis Cluster, as they always were on one Redis.
  const presence = new RedisPresenceStore(redis.data, config.podId, config.presence.ttlMs, Date.now, redis.keys);
  redis.onRestored(() => {
    presence.resync().catch((err) => logger?.warn('presence resync failed', { module: 'stores', error: String(err) }));
  });
  return {
    presence,
    cells: new RedisCellStore(redis.data, config.stateTtlSeconds, redis.keys),
    sessions: new RedisSessionStore(redis.data, config.stateTtlSeconds, redis.keys),
    chat: new RedisChatHistory(redis.data, config.chatHistoryCap, config.stateTtlSeconds, redis.keys),
    notifications: new RedisNotificationStore(redis.data, config.publishing.notificationsCap, config.stateTtlSeconds, redis.keys),
    uploads: new RedisUploadRegistry(redis.data, config.uploads.expiryMs, redis.keys),
  };
}
