import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { ErrorCodes } from '../../shared/errors';
import {
  MAX_STREAM_ITEMS,
  StreamItem,
  StreamPublishBody,
  StreamPublishResult,
  SubscriptionType,
  SubscriptionTypes,
  type StreamItem as Item,
} from '../../shared/messages/streams';
import { HttpErrorBody } from '../../shared/rest';
import type { PublishOutcome } from '../streams/hub';
import { jsonBody, parseWith, restErrors, type AdminGuard } from './admin';
import { sendHttpError } from './errors';

const STREAMS_PREFIX = '/api/v1/streams';

export interface StreamRouteDeps {
  readonly requireAdmin: AdminGuard;
  /** ADMIN_BODY_MAX_BYTES. */
  readonly bodyMaxBytes: number;
  /** Publishes validated items of one type to every pod (the stream hub). */
  publish(type: SubscriptionType, items: readonly Item[]): Promise<PublishOutcome>;
}

const ItemList = z.array(StreamItem).min(1).max(MAX_STREAM_ITEMS);

/**
 * The body as a list of items: an array is validated as the list (issue paths `3.payload`), an
 * object as the one item (paths `payload`); anything else names the body itself.
 */
function parseItems(body: unknown): Item[] {
  return Array.isArray(body) ? parseWith(ItemList, body, 'stream items') : [parseWith(StreamItem, body, 'stream items')];
}

/**
 * `POST /api/v1/streams/{type}` (admin JWT or ADMIN_API_KEY): one item or an array of at most
 * MAX_STREAM_ITEMS, published to every pod, where each local subscription of `type` whose filters
 * match gets it. The guard runs before the body is read. 200 `{type, accepted, receivers}` with
 * Redis (the channel's subscribers that got it: the pods, plus any other listener; deliveries then
 * happen on each pod asynchronously) or `{type, accepted, delivered}` on one pod without Redis.
 * 404 for another type, 400 with the issue paths for a bad body (nothing published), 503 when
 * Redis cannot take it.
 */
export function streamRoutes(deps: StreamRouteDeps): Router {
  const router = Router();
  const known = new Set<string>(SubscriptionTypes);
  const knownType: RequestHandler = (req, res, next) => {
    if (known.has(req.params.type)) return next();
    res.status(404).json({
      code: ErrorCodes.UNKNOWN_MESSAGE_TYPE,
      error: `Unknown stream type "${req.params.type.slice(0, 64)}": one of ${SubscriptionTypes.join(', ')}`,
      timestamp: new Date().toISOString(),
    });
  };
  // The guard first: an unauthenticated request's body is never read.
  // The item schema bounds nesting itself, naming the item that is too deep.
  router.post(`${STREAMS_PREFIX}/:type`, deps.requireAdmin, knownType, ...jsonBody(deps.bodyMaxBytes, { checkDepth: false }), async (req, res) => {
    try {
      const type = req.params.type as SubscriptionType;
      const items = parseItems(req.body);
      const outcome = await deps.publish(type, items);
      const answer: StreamPublishResult = { type, accepted: items.length, ...outcome, timestamp: new Date().toISOString() };
      res.json(answer);
    } catch (err) {
      sendHttpError(res, err);
    }
  });
  router.use(restErrors);
  return router;
}

/** The route in the OpenAPI document, from the schemas that validate it. */
export function describeStreamRoutes(registry: OpenAPIRegistry): void {
  const error = (description: string) => ({ description, content: { 'application/json': { schema: HttpErrorBody } } });
  registry.registerPath({
    method: 'post',
    path: `${STREAMS_PREFIX}/{type}`,
    summary: 'Publish stream items (seed 003)',
    description:
      `One item (a JSON object) or an array of at most ${MAX_STREAM_ITEMS}, published to every pod; each pod sends every local ` +
      'subscription of `type` whose filters match its own `data` event (seed 004 analytics subscriptions of `metrics` get ' +
      '`metric_update`). The same publication can be PUBLISHed by any Redis client on STREAMS_CHANNEL as ' +
      '`{"type": ..., "item": {...}}` or `{"type": ..., "items": [...]}`. Admin JWT (Authorization: Bearer) or ADMIN_API_KEY (X-API-Key).',
    tags: ['streams'],
    request: {
      params: z.object({ type: SubscriptionType.describe('The stream type (seed 003 subscription types).') }),
      body: { required: true, content: { 'application/json': { schema: StreamPublishBody } } },
    },
    responses: {
      200: { description: 'Published to every pod', content: { 'application/json': { schema: StreamPublishResult } } },
      400: error('Invalid items (`issues` lists the paths), malformed JSON, or not a JSON body: nothing published'),
      401: error('No valid admin token or API key'),
      403: error('The token lacks role admin'),
      404: error('Unknown stream type'),
      413: error('Body larger than ADMIN_BODY_MAX_BYTES'),
      503: error('Redis is unreachable: nothing published'),
    },
  });
}
