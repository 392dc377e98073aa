import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import { z } from 'zod';
import { Notification, NotificationLabel, NotificationPriority } from '../../shared/messages/notifications';
import { HttpErrorBody } from '../../shared/rest';
import { jsonBody, parseWith, restErrors, type AdminGuard } from './admin';
import { sendHttpError } from './errors';

export const NOTIFICATION_PATH = '/api/v1/ws/broadcast/notification';

/** Largest `data` object a notification may carry: it is stored up to NOTIFICATIONS_CAP times per list. */
export const MAX_NOTIFICATION_DATA_BYTES = 8192;

/**
 * Seed 002's "Broadcast Notification" body. Strict: an unknown field (a misspelt `module`) is a 400
 * naming it, not silently dropped. Without `user_id` (or with null) the notification is for every
 * user.
 */
export const CreateNotificationBody = z
  .object({
    title: z.string().min(1).max(200),
    message: z.string().min(1).max(4000),
    category: NotificationLabel,
    priority: NotificationPriority,
    module_name: NotificationLabel.nullish(),
    user_id: z.string().min(1).max(128).nullish(),
    data: z
      .record(z.unknown())
      .refine((d) => JSON.stringify(d).length <= MAX_NOTIFICATION_DATA_BYTES, `must be at most ${MAX_NOTIFICATION_DATA_BYTES} bytes of JSON`)
      .optional(),
  })
  .strict();
export type CreateNotificationInput = z.infer<typeof CreateNotificationBody>;

/** The seed passes `?event_type=notification_created`; it is the only event a backend creates. */
export const CreateNotificationQuery = z.object({ event_type: z.enum(['notification_created']).default('notification_created') });

export const CreateNotificationResponse = z.object({
  event_type: z.literal('notification_created'),
  notification: Notification,
  user_id: z.string().nullable(),
  /** Sockets of the pod that answered which received it (other pods deliver their own). */
  recipients_on_this_pod: z.number().int(),
  timestamp: z.string(),
});
export type CreateNotificationResponse = z.infer<typeof CreateNotificationResponse>;

export interface NotificationRouteDeps {
  readonly requireAdmin: AdminGuard;
  readonly bodyMaxBytes: number;
  /** Stores and delivers a validated notification; resolves once it is stored and sent. */
  create(input: CreateNotificationInput): Promise<Omit<CreateNotificationResponse, 'event_type' | 'timestamp'>>;
}

/**
 * `POST /api/v1/ws/broadcast/notification?event_type=notification_created` (admin JWT or
 * ADMIN_API_KEY): creates a notification, stores it (for its user, or for everyone) and delivers it
 * to every subscribed socket whose filters match, on every pod. 201 with the notification; 400 with
 * the issue paths and nothing stored when the body or query is wrong.
 */
export function notificationRoutes(deps: NotificationRouteDeps): Router {
  const router = Router();
  // The guard first: an unauthenticated request's body is never read. Body failures (not JSON, too
  // large, too deep) reach restErrors, as on the other admin routes.
  router.post(NOTIFICATION_PATH, deps.requireAdmin, ...jsonBody(deps.bodyMaxBytes), async (req, res) => {
    try {
      const { event_type } = parseWith(CreateNotificationQuery, req.query, 'query');
      const created = await deps.create(parseWith(CreateNotificationBody, req.body, 'notification'));
      const answer: CreateNotificationResponse = { event_type, ...created, timestamp: new Date().toISOString() };
      res.status(201).json(answer);
    } catch (err) {
      sendHttpError(res, err);
    }
  });
  router.use(restErrors);
  return router;
}

/** The route in the OpenAPI document, from the same schemas that validate it. */
export function describeNotificationRoutes(registry: OpenAPIRegistry): void {
  const errorBody = registry.register('Error', HttpErrorBody);
  const error = (description: string) => ({ description, content: { 'application/json': { schema: errorBody } } });
  registry.registerPath({
    method: 'post',
    path: NOTIFICATION_PATH,
    summary: 'Create and deliver a notification',
    description:
      'Stores the notification for `user_id`, or for every user when `user_id` is absent, and sends `notification_event` ' +
      '(`notification_created`) to every socket subscribed with `subscribe_notifications` whose filters match, on every pod. ' +
      'Admin JWT (Authorization: Bearer) or ADMIN_API_KEY (X-API-Key).',
    tags: ['notifications'],
    request: {
      query: CreateNotificationQuery,
      body: { required: true, content: { 'application/json': { schema: CreateNotificationBody } } },
    },
    responses: {
      201: { description: 'Created and delivered', content: { 'application/json': { schema: CreateNotificationResponse } } },
      400: error('INVALID_MESSAGE: invalid body or query (`issues` lists the paths); INVALID_JSON: malformed body'),
      401: error('No valid admin token or API key'),
      403: error('The token lacks role admin'),
      413: error('Body larger than ADMIN_BODY_MAX_BYTES'),
      503: error('The state store (Redis) is unreachable: nothing was stored or delivered'),
    },
  });
}
