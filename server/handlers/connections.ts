import { ErrorCodes, GatewayError } from '../../shared/errors';
import { exclusiveRoom, userRoom } from '../../shared/rooms';
import { socketConnectionInfo } from '../connection-info';
import type { Feature } from './context';

const REPLACED = 'Replaced by a newer connection of the same user';

/**
 * What every connection gets on connect: its user's room (`user:<sub>`, on every namespace, so a
 * backend or the admin API can reach all of a user's sockets on every pod), and, for endpoints
 * that allow one connection per user (seed 000: "a new one replaces the old"), the replacement of
 * the user's older connections there, on every pod: they are told why (CONNECTION_LIMIT) and
 * closed with 1008. Ties between two connections of the same instant go to the larger socket id.
 */
export const registerConnections: Feature = (ctx) => {
  ctx.onConnect((socket) => {
    const { userId } = socket.data.principal;
    void socket.join(userRoom(userId));
    const scope = socketConnectionInfo(socket).exclusiveScope;
    if (scope === undefined) return;
    const room = exclusiveRoom(scope, userId);
    void socket.join(room);
    const closed = ctx.control.closeRoom(room, new GatewayError(ErrorCodes.CONNECTION_LIMIT, REPLACED), {
      olderThan: { at: socket.handshake.issued, id: socket.id },
    });
    if (closed) ctx.logger.child({ module: 'connections' }).info('replaced older connections', { socket_id: socket.id, user_id: userId, scope, closed });
  });
};
