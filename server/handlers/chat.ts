import { randomUUID } from 'node:crypto';
import type { ChatMessage } from '../../shared/messages/chat';
import type { Feature } from './context';
import { targetRoom } from './membership';

/**
 * Chat (seed 004) in the ordinary rooms: message → message to the whole room, the author included,
 * and, at the same time, into the room's capped history (Redis with several pods, so it outlives the pod that wrote
 * it); typing to the others; history → the last messages before a time, newest last. Ids are
 * random UUIDs, unique across pods.
 */
export const registerChat: Feature = (ctx) => {
  const { chat } = ctx.stores;

  ctx.handle('message', async ({ content, messageType, room_id }, call) => {
    const room = targetRoom(call.socket, room_id);
    const { userId, username } = call.principal;
    const message: ChatMessage = {
      id: randomUUID(),
      room_id: room,
      content,
      messageType,
      author: { userId, username },
      timestamp: new Date().toISOString(),
    };
    await ctx.rooms.reserve([room]);
    // Delivered while it is being stored, so the store's round trip never delays delivery; the ack
    // waits for the store (UPSTREAM_UNAVAILABLE when Redis is away: delivered, not in history).
    const stored = chat.append(room, message);
    ctx.rooms.toRoom(room, 'message', message);
    await stored;
    return { id: message.id, timestamp: message.timestamp };
  });

  ctx.handle('typing', ({ isTyping, room_id }, call) => {
    const room = targetRoom(call.socket, room_id);
    const { userId, username } = call.principal;
    ctx.rooms.toRoom(room, 'typing', { userId, username, isTyping, room_id: room }, { except: call.socket });
  });

  ctx.handle('history', async ({ limit, before, room_id }, call) => {
    const room = targetRoom(call.socket, room_id);
    return { room_id: room, messages: await chat.before(room, limit, before === undefined ? undefined : Date.parse(before)) };
  });
};
