import { randomUUID } from 'node:crypto';
import { ErrorCodes, GatewayError } from '../../shared/errors';
import {
  compileNotificationFilters,
  matchesNotificationFilters,
  type CompiledNotificationFilters,
  type Notification,
} from '../../shared/messages/notifications';
import { notificationsRoom } from '../../shared/rooms';
import type { StoredNotification } from '../cluster/notifications';
import { notificationRoutes, type CreateNotificationInput } from '../http/notifications';
import type { GatewayNamespace, GatewaySocket } from '../types';
import type { Feature } from './context';

/** The order that carries a new notification to the other pods, which filter it for their own sockets. */
const DELIVER = 'gateway:notification';

/** What a socket sees of a stored notification (its user is the event's `user_id`). */
function toWire(n: StoredNotification, read: boolean): Notification {
  const { id, title, message, category, priority, module_name, created_at, data } = n;
  return { id, title, message, category, priority, module_name, created_at, read, ...(data === undefined ? {} : { data }) };
}

/**
 * This pod's subscribed sockets with their compiled filters, by user: a user's notification looks at
 * that user's sockets only, a broadcast one at every subscriber of the pod. Filters are per socket,
 * which no room can express, so each pod matches its own sockets (the only per-subscriber work) and
 * then emits once per namespace to the matching socket ids.
 */
class Subscribers {
  private readonly byUser = new Map<string, Map<GatewaySocket, CompiledNotificationFilters>>();

  set(socket: GatewaySocket, filters: CompiledNotificationFilters): void {
    const userId = socket.data.principal.userId;
    const sockets = this.byUser.get(userId) ?? new Map<GatewaySocket, CompiledNotificationFilters>();
    this.byUser.set(userId, sockets.set(socket, filters));
  }

  delete(socket: GatewaySocket): void {
    const userId = socket.data.principal.userId;
    const sockets = this.byUser.get(userId);
    if (sockets?.delete(socket) && sockets.size === 0) this.byUser.delete(userId);
  }

  /** The matching sockets' ids, grouped by namespace. */
  matching(n: StoredNotification): Map<GatewayNamespace, string[]> {
    const out = new Map<GatewayNamespace, string[]>();
    const users: Iterable<Map<GatewaySocket, CompiledNotificationFilters>> = n.user_id === null ? this.byUser.values() : [this.byUser.get(n.user_id) ?? new Map()];
    for (const sockets of users) {
      for (const [socket, filters] of sockets) {
        if (!matchesNotificationFilters(filters, n)) continue;
        const ids = out.get(socket.nsp) ?? [];
        out.set(socket.nsp, ids);
        ids.push(socket.id);
      }
    }
    return out;
  }
}

/**
 * Notifications (seed 002 section 7). Created by the admin REST route, stored first (so a read that
 * follows the delivery always finds it, and a user offline now finds it unread later), then
 * delivered: this pod filters its own subscribers, and the notification travels to every other pod
 * through the adapter's server-side events, where each pod does the same. A broadcast notification
 * (no `user_id`) thus reaches every matching subscriber in the cluster without any pod knowing the
 * others' sockets. Read events need no filtering: they go to the user's `notifications:<sub>` room
 * through the adapter (encoded once, every pod), except the socket that read.
 */
export const registerNotifications: Feature = (ctx) => {
  const store = ctx.stores.notifications;
  const subscribers = new Subscribers();
  const log = ctx.logger.child({ module: 'notifications' });

  /** Emits a notification to this pod's matching subscribers; answers how many sockets got it. */
  const deliverLocally = (n: StoredNotification): number => {
    const payload = { event_type: 'notification_created' as const, notification: toWire(n, false), user_id: n.user_id };
    let count = 0;
    for (const [nsp, ids] of subscribers.matching(n)) {
      nsp.local.to(ids).emit('notification_event', payload);
      ctx.metrics.messagesSent('notification_event');
      count += ids.length;
    }
    return count;
  };

  const onOrder = (n: StoredNotification) => {
    try {
      deliverLocally(n);
    } catch (err) {
      log.error('notification not delivered', { error: String(err) });
    }
  };
  ctx.io.on(DELIVER, onOrder);

  const create = async (input: CreateNotificationInput) => {
    const n: StoredNotification = {
      id: randomUUID(),
      title: input.title,
      message: input.message,
      category: input.category,
      priority: input.priority,
      module_name: input.module_name ?? null,
      created_at: new Date().toISOString(),
      user_id: input.user_id ?? null,
      ...(input.data === undefined ? {} : { data: input.data }),
    };
    await store.add(n);
    if (ctx.clustered) {
      try {
        ctx.io.serverSideEmit(DELIVER, n);
      } catch (err) {
        log.warn('notification not sent to the other pods', { id: n.id, error: String(err) });
      }
    }
    return { notification: toWire(n, false), user_id: n.user_id, recipients_on_this_pod: deliverLocally(n) };
  };
  ctx.http.use(notificationRoutes({ requireAdmin: ctx.requireAdmin, bodyMaxBytes: ctx.config.publishing.bodyMaxBytes, create }));

  ctx.handle('subscribe_notifications', async ({ limit, ...filters }, call) => {
    const compiled = compileNotificationFilters(filters);
    // Subscribed before the store is read: a notification created meanwhile may arrive both live and
    // in the answer (same id), never in neither. Should the read fail (UPSTREAM_UNAVAILABLE), the
    // filters still apply to live notifications; the client asks again for the unread ones.
    subscribers.set(call.socket, compiled);
    void call.socket.join(notificationsRoom(call.principal.userId));
    const unread = (await store.forUser(call.principal.userId)).filter((n) => !n.read && matchesNotificationFilters(compiled, n));
    return { filters, notifications: unread.slice(0, limit).map((n) => toWire(n, false)), unread_count: unread.length };
  });

  ctx.handle('notification_read', async ({ notification_id }, call) => {
    const userId = call.principal.userId;
    const result = await store.markRead(userId, notification_id);
    if (result === 'unknown') {
      throw new GatewayError(ErrorCodes.INVALID_MESSAGE, `Unknown notification ${notification_id}`, {
        notification_id,
        issues: [{ path: 'notification_id', message: 'No such notification for this user' }],
      });
    }
    if (result === 'marked') {
      ctx.rooms.toInternal(notificationsRoom(userId), 'notification_event', { event_type: 'notification_read', notification_id, user_id: userId }, { except: call.socket });
    }
    return { notification_id, read: true as const };
  });

  ctx.onDisconnect((socket) => subscribers.delete(socket));

  return () => {
    ctx.io.off(DELIVER, onOrder);
  };
};
