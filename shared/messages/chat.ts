import { z } from 'zod';
import { Author } from './collaboration';
import { RoomId, defineClientMessages, defineServerMessages, message } from './define';

/** Seed 004 chat. Rooms are the ordinary rooms (join_room); served on `/chat`. */
export const ChatMessage = z.object({
  id: z.string(),
  room_id: z.string(),
  content: z.string(),
  messageType: z.string(),
  author: Author,
  timestamp: z.string(),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

const History = z.object({ room_id: z.string(), messages: z.array(ChatMessage) });

export const chatClientMessages = defineClientMessages('/chat', {
  /** room_id absent: the one room this connection joined. */
  message: message({
    schema: z.object({ content: z.string().min(1).max(4000), messageType: z.string().min(1).max(32).default('text'), room_id: RoomId.optional() }),
    rate: 'request',
    ack: z.object({ id: z.string(), timestamp: z.string() }),
  }),
  typing: message({ schema: z.object({ isTyping: z.boolean(), room_id: RoomId.optional() }), rate: 'stream', maxBytes: 1024 }),
  history: message({
    schema: z.object({
      limit: z.number().int().min(1).max(200).default(50),
      before: z.string().datetime({ offset: true }).optional(),
      room_id: RoomId.optional(),
    }),
    rate: 'request',
    ack: History,
    reply: 'history',
  }),
});

const Member = z.object({ userId: z.string(), username: z.string(), room_id: z.string() });

export const chatServerMessages = defineServerMessages('/chat', {
  message: ChatMessage,
  typing: z.object({ userId: z.string(), username: z.string(), isTyping: z.boolean(), room_id: z.string() }),
  history: History,
  user_joined: Member,
  user_left: Member,
});
