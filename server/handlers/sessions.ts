import { ErrorCodes, GatewayError } from '../../shared/errors';
import { sessionRoom } from '../../shared/rooms';
import type { GatewaySocket } from '../types';
import type { Feature } from './context';

function sessionsOf(socket: GatewaySocket): Map<string, string> {
  return (socket.data.sessions ??= new Map());
}

/**
 * Collaboration sessions (seed 004): the gateway sequences a session's edits. An edit made against
 * the session's current version is accepted, gets version + 1 and goes to the whole session with
 * its author; a stale one gets VERSION_CONFLICT with the current version so the client can rebase.
 * Versions live in the session store, so the sequence is one across pods.
 */
export const registerSessions: Feature = (ctx) => {
  const { sessions } = ctx.stores;

  ctx.handle('join_session', async ({ sessionId, role }, call) => {
    sessionsOf(call.socket).set(sessionId, role);
    call.socket.join(sessionRoom(sessionId));
    return { sessionId, role, version: await sessions.version(sessionId) };
  });

  ctx.handle('leave_session', ({ sessionId }, call) => {
    if (!sessionsOf(call.socket).delete(sessionId)) {
      throw new GatewayError(ErrorCodes.NOT_IN_ROOM, `Not in session ${sessionId}`, { sessionId });
    }
    call.socket.leave(sessionRoom(sessionId));
    return { sessionId };
  });

  ctx.handle('edit', async ({ sessionId, operation, position, content, version }, call) => {
    const joined = sessionsOf(call.socket);
    const target = sessionId ?? (joined.size === 1 ? joined.keys().next().value : undefined);
    if (target === undefined || !joined.has(target)) {
      throw new GatewayError(ErrorCodes.NOT_IN_ROOM, sessionId ? `Not in session ${sessionId}` : 'Join a session first (or name sessionId)');
    }
    if (joined.get(target) === 'observer') {
      throw new GatewayError(ErrorCodes.PERMISSION_DENIED, 'Observers cannot edit', { sessionId: target });
    }
    const result = await sessions.sequence(target, version);
    if (!result.ok) {
      throw new GatewayError(ErrorCodes.VERSION_CONFLICT, `Session ${target} is at version ${result.version}`, {
        sessionId: target,
        currentVersion: result.version,
      });
    }
    const { userId, username } = call.principal;
    ctx.rooms.toInternal(sessionRoom(target), 'edit', {
      sessionId: target,
      operation,
      position,
      content,
      version: result.version,
      author: { userId, username },
      timestamp: new Date().toISOString(),
    });
    return { sessionId: target, version: result.version };
  });
};
