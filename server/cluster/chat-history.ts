import type { ChatMessage } from '../../shared/messages/chat';
import type { RedisClient } from './redis';
import { upstream } from './upstream';

/** Per-room chat history, capped to the newest `cap` messages. */
export interface ChatHistory {
  append(roomId: string, message: ChatMessage): Promise<void>;
  /** Up to `limit` messages older than `beforeMs` (all when absent), newest last. */
  before(roomId: string, limit: number, beforeMs?: number): Promise<ChatMessage[]>;
}

function pick(messages: ChatMessage[], limit: number, beforeMs?: number): ChatMessage[] {
  const older = beforeMs === undefined ? messages : messages.filter((m) => Date.parse(m.timestamp) < beforeMs);
  return older.slice(Math.max(0, older.length - limit));
}

export class MemoryChatHistory implements ChatHistory {
  private readonly rooms = new Map<string, ChatMessage[]>();

  constructor(private readonly cap: number) {}

  async append(roomId: string, message: ChatMessage): Promise<void> {
    let list = this.rooms.get(roomId);
    if (!list) this.rooms.set(roomId, (list = []));
    list.push(message);
    if (list.length > this.cap) list.splice(0, list.length - this.cap);
  }

  async before(roomId: string, limit: number, beforeMs?: number): Promise<ChatMessage[]> {
    return pick(this.rooms.get(roomId) ?? [], limit, beforeMs);
  }
}

const key = (roomId: string) => `rg:chat:${roomId}`;

/** A Redis list per room, trimmed on every append; it outlives the pod that wrote it. */
export class RedisChatHistory implements ChatHistory {
  constructor(
    private readonly redis: RedisClient,
    private readonly cap: number,
    private readonly ttlSeconds: number,
  ) {}

  async append(roomId: string, message: ChatMessage): Promise<void> {
    await upstream(() =>
      this.redis
        .multi()
        .rPush(key(roomId), JSON.stringify(message))
        .lTrim(key(roomId), -this.cap, -1)
        .expire(key(roomId), this.ttlSeconds)
        .exec(),
    );
  }

  async before(roomId: string, limit: number, beforeMs?: number): Promise<ChatMessage[]> {
    const raw = await upstream(() => this.redis.lRange(key(roomId), beforeMs === undefined ? -limit : 0, -1));
    return pick(raw.map((r) => JSON.parse(r) as ChatMessage), limit, beforeMs);
  }
}
