import type { ChatMessage } from '../../shared/messages/chat';
import type { KeySpace } from './keys';
import { keySpaceOf, type DataClient } from './redis';
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

const keyOf = (keys: KeySpace, roomId: string) => `rg:chat:${keys.tag(roomId)}`;

/** A Redis list per room, trimmed on every append; it outlives the pod that wrote it. */
export class RedisChatHistory implements ChatHistory {
  private readonly key: (roomId: string) => string;

  constructor(
    private readonly redis: DataClient,
    private readonly cap: number,
    private readonly ttlSeconds: number,
    keys: KeySpace = keySpaceOf(redis),
  ) {
    this.key = (roomId) => keyOf(keys, roomId);
  }

  async append(roomId: string, message: ChatMessage): Promise<void> {
    await upstream(() =>
      this.redis
        .multi()
        .rPush(this.key(roomId), JSON.stringify(message))
        .lTrim(this.key(roomId), -this.cap, -1)
        .expire(this.key(roomId), this.ttlSeconds)
        .exec(),
    );
  }

  async before(roomId: string, limit: number, beforeMs?: number): Promise<ChatMessage[]> {
    const raw = await upstream(() => this.redis.lRange(this.key(roomId), beforeMs === undefined ? -limit : 0, -1));
    return pick(raw.map((r) => JSON.parse(r) as ChatMessage), limit, beforeMs);
  }
}
