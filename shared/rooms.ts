/**
 * Every room name the gateway uses, in one place. A client-chosen room id always lives under
 * `room:`, so it can never name an internal room: a client that joins "user:alice" joins
 * `room:user:alice` and never receives alice's notifications. Backends publishing with
 * `@socket.io/redis-emitter` use these names too (`room:<id>`, `user:<sub>`).
 */
export const clientRoom = (roomId: string): string => `room:${roomId}`;
/** Every socket of one user, on every pod and namespace. */
export const userRoom = (userId: string): string => `user:${userId}`;
/** The members of one collaboration session. */
export const sessionRoom = (sessionId: string): string => `session:${sessionId}`;
/** The subscribers of one stream type (seed 003 / seed 004 analytics). */
export const streamRoom = (type: string): string => `stream:${type}`;
/** One user's sockets that subscribed to notifications (they get its read events), on every pod. */
export const notificationsRoom = (userId: string): string => `notifications:${userId}`;
/** One user's connections of an endpoint that allows only one per user (seed 000). */
export const exclusiveRoom = (scope: string, userId: string): string => `exclusive:${scope}:${userId}`;

export const CLIENT_ROOM_PREFIX = 'room:';
