import { z } from 'zod';
import { defineClientMessages, defineServerMessages, message } from './define';

/**
 * Seed 002 notifications (section 7), served on `/notifications` (and `/`, and the native dialects).
 * A backend creates them (`POST /api/v1/ws/broadcast/notification`); a socket subscribes with
 * filters and gets the unread ones that match, then every new one that matches; reading one marks it
 * read for the user on every pod and tells the user's other subscribed sockets.
 */
export const NotificationPriorities = ['low', 'normal', 'high', 'critical'] as const;
export const NotificationPriority = z.enum(NotificationPriorities);
export type NotificationPriority = z.infer<typeof NotificationPriority>;

/** A category or module name: what filters compare exactly. */
export const NotificationLabel = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters');

/** Most values one filter may list. */
export const MAX_FILTER_VALUES = 32;
/** Most unread notifications one subscribe answers with. */
export const MAX_UNREAD_ANSWER = 200;

/** A notification as its receiver sees it; `read` is that user's read state. */
export const Notification = z.object({
  id: z.string(),
  title: z.string(),
  message: z.string(),
  category: z.string(),
  priority: NotificationPriority,
  module_name: z.string().nullable(),
  created_at: z.string(),
  read: z.boolean(),
  /** Free-form extra fields the creating backend attached (a link, an object id). */
  data: z.record(z.unknown()).optional(),
});
export type Notification = z.infer<typeof Notification>;

/**
 * A socket's filters. Every filter given must match; within one filter any listed value matches. An
 * absent or empty filter matches everything; a notification without `module_name` matches no
 * `modules` filter.
 */
export const NotificationFilters = z.object({
  categories: z.array(NotificationLabel).max(MAX_FILTER_VALUES).optional(),
  modules: z.array(NotificationLabel).max(MAX_FILTER_VALUES).optional(),
  priorities: z.array(NotificationPriority).max(MAX_FILTER_VALUES).optional(),
});
export type NotificationFilters = z.infer<typeof NotificationFilters>;

const Subscribed = z.object({
  filters: NotificationFilters,
  /** The unread notifications that match, newest first, at most `limit`. */
  notifications: z.array(Notification),
  /** How many unread notifications match in all (may exceed the list's length). */
  unread_count: z.number().int(),
});

export const notificationClientMessages = defineClientMessages('/notifications', {
  /**
   * Keeps this socket's filters (replacing earlier ones) and answers with its unread matches. Strict:
   * a misspelt filter (`category`) is refused rather than silently subscribing to everything.
   */
  subscribe_notifications: message({
    schema: NotificationFilters.extend({ limit: z.number().int().min(1).max(MAX_UNREAD_ANSWER).default(50) }).strict(),
    rate: 'request',
    ack: Subscribed,
    reply: 'notifications_subscribed',
  }),
  notification_read: message({
    schema: z.object({ notification_id: z.string().min(1).max(128) }),
    rate: 'request',
    ack: z.object({ notification_id: z.string(), read: z.literal(true) }),
  }),
});

export const NotificationCreatedEvent = z.object({
  event_type: z.literal('notification_created'),
  notification: Notification,
  /** The user it was created for; null for a notification to every user. */
  user_id: z.string().nullable(),
});

export const NotificationReadEvent = z.object({
  event_type: z.literal('notification_read'),
  notification_id: z.string(),
  user_id: z.string(),
});

export const notificationServerMessages = defineServerMessages('/notifications', {
  notification_event: z.discriminatedUnion('event_type', [NotificationCreatedEvent, NotificationReadEvent]),
  /** The answer to subscribe_notifications for a client that sent no ack callback. */
  notifications_subscribed: Subscribed,
});

/** Filters compiled once at subscribe time: sets, absent when they match everything. */
export interface CompiledNotificationFilters {
  readonly categories?: ReadonlySet<string>;
  readonly modules?: ReadonlySet<string>;
  readonly priorities?: ReadonlySet<string>;
}

const asSet = (values?: readonly string[]) => (values && values.length > 0 ? new Set(values) : undefined);

export function compileNotificationFilters(filters: NotificationFilters): CompiledNotificationFilters {
  return { categories: asSet(filters.categories), modules: asSet(filters.modules), priorities: asSet(filters.priorities) };
}

/** Whether a notification passes a socket's filters (see NotificationFilters). */
export function matchesNotificationFilters(
  filters: CompiledNotificationFilters,
  n: { readonly category: string; readonly module_name: string | null; readonly priority: string },
): boolean {
  return (
    (!filters.categories || filters.categories.has(n.category)) &&
    (!filters.modules || (n.module_name !== null && filters.modules.has(n.module_name))) &&
    (!filters.priorities || filters.priorities.has(n.priority))
  );
}
