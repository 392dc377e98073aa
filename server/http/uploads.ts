import type { OpenAPIRegistry, ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { Router, type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import { ErrorCodes, GatewayError } from '../../shared/errors';
import { HttpErrorBody } from '../../shared/rest';
import { bearerToken } from '../auth/token';
import type { TokenVerifier } from '../auth/verify';
import { UPLOAD_ID, UPLOADS_PATH } from '../uploads/metadata';
import type { UploadEndpoint } from '../uploads/tus';
import { sendHttpError } from './errors';

export interface UploadRouteDeps {
  readonly endpoint: UploadEndpoint;
  readonly verify: TokenVerifier;
  readonly originAllowed: (origin: string | undefined) => boolean;
  /** Called with every upload request while it runs (shutdown ends the ones still running). */
  track(req: Request): void;
}

/** Creation on the collection; the protocol's other requests (and the download) on one upload. */
const ROUTES = [
  { path: UPLOADS_PATH, methods: ['post', 'options'] },
  { path: `${UPLOADS_PATH}/:upload_id`, methods: ['head', 'patch', 'delete', 'get', 'options'] },
] as const;

/**
 * The tus endpoint's routes. Every request but a CORS preflight carries the user's JWT as
 * `Authorization: Bearer` (401 AUTHENTICATION_FAILED otherwise); a browser's Origin must be one of
 * ALLOWED_ORIGINS (403). No body parser runs here: PATCH bodies stream to the store untouched.
 */
export function uploadRoutes(deps: UploadRouteDeps): Router {
  const router = Router();
  const serve: RequestHandler = (req, res) => {
    if (!deps.originAllowed(req.headers.origin)) {
      return sendHttpError(res, new GatewayError(ErrorCodes.PERMISSION_DENIED, 'Origin not allowed'));
    }
    if (req.method === 'OPTIONS') return void deps.endpoint.handle(req, res, undefined);
    let principal;
    try {
      principal = deps.verify(bearerToken(req.headers));
    } catch (err) {
      // Tus clients read the status; the header tells them how to authenticate.
      res.setHeader('WWW-Authenticate', 'Bearer');
      return sendHttpError(res, err);
    }
    deps.track(req);
    void deps.endpoint.handle(req, res, principal);
  };
  for (const { path, methods } of ROUTES) for (const method of methods) router[method](path, serve);
  return router;
}

const UploadIdParam = z.object({ upload_id: z.string().regex(UPLOAD_ID).describe('The id the gateway gave the upload (32 hex digits).') });

/** The tus routes in the OpenAPI document (user JWT, not admin). */
export function describeUploadRoutes(registry: OpenAPIRegistry): void {
  const errorBody = registry.register('Error', HttpErrorBody);
  const error = (description: string): ResponseConfig => ({ description, content: { 'application/json': { schema: errorBody } } });
  const security = [{ bearerAuth: [] }];
  const tusHeaders = z.object({ 'tus-resumable': z.literal('1.0.0') });
  const common = { tags: ['uploads'], security };
  const refusals = { 401: error('AUTHENTICATION_FAILED: no or bad bearer token'), 403: error('PERMISSION_DENIED: Origin not in ALLOWED_ORIGINS') };
  const missing = error('No such upload for this user (another user\'s upload answers the same)');
  registry.registerPath({
    ...common,
    method: 'post',
    path: UPLOADS_PATH,
    summary: 'Create an upload (tus creation, creation-with-upload)',
    description:
      'Upload-Length is required; Upload-Metadata may carry `filename` (or `name`), `filetype` (or `type`) and `file_id` (the client\'s id, used in socket events). ' +
      'The gateway stores its own metadata: a sanitized file name, the type, the file id and the owner. Location is the upload\'s path.',
    request: { headers: tusHeaders.extend({ 'upload-length': z.string(), 'upload-metadata': z.string().optional() }) },
    responses: {
      201: { description: 'Created; Location names the upload' },
      ...refusals,
      400: error('INVALID_MESSAGE: no Upload-Length, bad metadata'),
      409: error('INVALID_MESSAGE: this file_id has an upload in flight (`upload_path` says which)'),
      413: error('MESSAGE_TOO_LARGE: Upload-Length above UPLOAD_MAX_BYTES'),
      415: error('INVALID_MESSAGE: type outside UPLOAD_ALLOWED_TYPES'),
      429: error('RATE_LIMIT_EXCEEDED: UPLOAD_MAX_IN_FLIGHT unfinished uploads'),
    },
  });
  const one = `${UPLOADS_PATH}/{upload_id}`;
  registry.registerPath({
    ...common,
    method: 'head',
    path: one,
    summary: 'The upload\'s offset (Upload-Offset) and length: where to resume',
    request: { params: UploadIdParam, headers: tusHeaders },
    responses: { 200: { description: 'Upload-Offset and Upload-Length headers' }, ...refusals, 404: missing, 410: { description: 'Expired' } },
  });
  registry.registerPath({
    ...common,
    method: 'patch',
    path: one,
    summary: 'Append bytes at Upload-Offset (Content-Type: application/offset+octet-stream)',
    request: { params: UploadIdParam, headers: tusHeaders.extend({ 'upload-offset': z.string() }) },
    responses: { 204: { description: 'Stored; Upload-Offset is the new offset' }, ...refusals, 404: missing, 409: { description: 'Upload-Offset is not the upload\'s offset' }, 410: { description: 'Expired' }, 413: error('More bytes than the upload\'s length') },
  });
  registry.registerPath({
    ...common,
    method: 'delete',
    path: one,
    summary: 'Terminate the upload and remove its bytes (tus termination)',
    request: { params: UploadIdParam, headers: tusHeaders },
    responses: { 204: { description: 'Removed' }, ...refusals, 404: missing },
  });
  registry.registerPath({
    ...common,
    method: 'get',
    path: one,
    summary: 'Download a finished upload (streamed, with Content-Type and Content-Disposition)',
    description: 'Types that browsers could run (HTML, SVG, PDF...) are always sent as attachments.',
    request: { params: UploadIdParam },
    responses: { 200: { description: 'The file', content: { 'application/octet-stream': { schema: z.string() } } }, ...refusals, 404: missing },
  });
  const discovery = (path: string, request?: { params: typeof UploadIdParam }) =>
    registry.registerPath({
      tags: ['uploads'],
      security: [],
      method: 'options',
      path,
      ...(request ? { request } : {}),
      summary: 'tus discovery and CORS preflight (no token needed)',
      responses: { 204: { description: 'Tus-Version, Tus-Extension, Tus-Max-Size' } },
    });
  discovery(UPLOADS_PATH);
  discovery(one, { params: UploadIdParam });
}
