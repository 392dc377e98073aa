import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server as TusServer } from '@tus/server';
import { EVENTS, type Upload } from '@tus/utils';
import { ErrorChannels, ErrorCodes, GatewayError, toGatewayError } from '../../shared/errors';
import { httpErrorBody } from '../http/errors';
import type { Principal } from '../auth/principal';
import type { Logger } from '../logger';
import { UNSUPPORTED_TYPE, type UploadAdmission } from './admission';
import { newUploadId, readMetadata, UPLOAD_ID, UPLOADS_PATH, uploadPath, type UploadMetadata } from './metadata';
import type { UploadStorage } from './storage';


/** What the endpoint tells the rest of the gateway while bytes arrive. */
export interface UploadListener {
  /** Bytes arrived (throttled by tus to one call per interval per request, plus one at each request's end). */
  progress(uploadId: string, metadata: UploadMetadata, offset: number, size: number): void;
  /** The last byte arrived; `url` is where the file is fetched from. Awaited before the client's final 204. */
  finished(uploadId: string, metadata: UploadMetadata, size: number, url: string): Promise<void>;
}

export interface UploadEndpointDeps {
  readonly storage: UploadStorage;
  readonly admission: UploadAdmission;
  readonly maxBytes: number;
  readonly progressIntervalMs: number;
  readonly listener: UploadListener;
  /** Scheme and host the request came to (`https://gw.example.com`), for the download URL. */
  publicBase(req: IncomingMessage): string;
  readonly log: Logger;
}

/** A tus error answer: the status and the REST API's JSON error body. */
function refusal(status: number, err: GatewayError): { status_code: number; body: string } {
  return { status_code: status, body: JSON.stringify(httpErrorBody(err)) };
}

/** The HTTP status of a refusal: the code's, except an unaccepted type (415). */
export function uploadStatus(err: GatewayError): number {
  return err.details.reason === UNSUPPORTED_TYPE ? 415 : ErrorChannels[err.code].http;
}

const notFound = () => refusal(404, new GatewayError(ErrorCodes.ROOM_NOT_FOUND, 'No such upload'));

/**
 * The tus 1.0 endpoint (@tus/server with the core protocol and the creation, creation-with-upload,
 * termination and expiration extensions). The caller authenticates each request first and passes
 * the principal; this layer adds what tus does not know:
 * - ownership: an upload whose stored `user_id` is not the caller's answers 404, as if absent;
 * - ids: only the gateway's own (32 hex digits) name an upload, whatever else the URL holds;
 * - admission at creation (UploadAdmission), the stored metadata the gateway's, not the client's;
 * - the uploader's sockets hear progress and completion (UploadListener).
 */
export class UploadEndpoint {
  private readonly tus: TusServer;
  private readonly principals = new WeakMap<IncomingMessage, Principal>();

  constructor(private readonly deps: UploadEndpointDeps) {
    this.tus = new TusServer({
      path: UPLOADS_PATH,
      datastore: deps.storage.store,
      maxSize: deps.maxBytes,
      relativeLocation: true,
      postReceiveInterval: deps.progressIntervalMs,
      namingFunction: () => newUploadId(),
      getFileIdFromRequest: (_req, lastPath) => (lastPath !== undefined && UPLOAD_ID.test(lastPath) ? lastPath : undefined),
      onIncomingRequest: (req, _res, id) => this.authorize(req, id),
      onUploadCreate: (req, res, upload) => this.create(req, res, upload),
      onUploadFinish: async (req, res, upload) => {
        await this.finish(req, upload);
        return res;
      },
      onResponseError: (_req, _res, err) => (err instanceof GatewayError ? refusal(uploadStatus(err), err) : undefined),
    });
    const onReceive = (upload: Upload) => {
      const metadata = readMetadata(upload.metadata);
      if (metadata && upload.size !== undefined) deps.listener.progress(upload.id, metadata, upload.offset, upload.size);
    };
    this.tus.on(EVENTS.POST_RECEIVE_V2, (_req: IncomingMessage, upload: Upload) => onReceive(upload));
    this.tus.on(EVENTS.POST_RECEIVE, (_req: IncomingMessage, _res: ServerResponse, upload: Upload) => onReceive(upload));
    this.tus.on(EVENTS.POST_TERMINATE, (req: IncomingMessage) => this.terminated(req));
  }

  /** Serves one request of an authenticated principal (none only for OPTIONS, which tus answers without the store). */
  async handle(req: IncomingMessage, res: ServerResponse, principal: Principal | undefined): Promise<void> {
    if (principal) this.principals.set(req, principal);
    await this.tus.handle(req, res);
  }

  /** Removes unfinished uploads older than UPLOAD_EXPIRY_HOURS; answers how many. */
  sweep(): Promise<number> {
    return this.tus.cleanUpExpiredUploads();
  }

  private readonly owned = new WeakMap<IncomingMessage, { id: string; metadata: UploadMetadata }>();

  /** Every request on an existing upload: the caller must own it. */
  private async authorize(req: IncomingMessage, id: string): Promise<void> {
    if (req.method === 'POST') return;
    const principal = this.principals.get(req);
    let upload: Upload;
    try {
      upload = await this.deps.storage.store.getUpload(id);
    } catch {
      throw notFound();
    }
    const metadata = readMetadata(upload.metadata);
    if (!principal || !metadata || metadata.user_id !== principal.userId) throw notFound();
    this.owned.set(req, { id, metadata });
  }

  private async create(req: IncomingMessage, res: ServerResponse, upload: Upload): Promise<{ res: ServerResponse; metadata: UploadMetadata }> {
    const principal = this.principals.get(req);
    if (!principal) throw notFound();
    if (upload.size === undefined) {
      throw refusal(400, new GatewayError(ErrorCodes.INVALID_MESSAGE, 'Upload-Length is required (deferred lengths are not accepted)'));
    }
    const md = upload.metadata ?? {};
    const admission = await this.deps.admission
      .admit(principal, upload.id, { fileId: md.file_id ?? undefined, filename: md.filename ?? md.name, size: upload.size, mimeType: md.filetype ?? md.type })
      .catch((err) => {
        const e = toGatewayError(err);
        throw refusal(uploadStatus(e), e);
      });
    if (admission.status === 'existing') {
      throw refusal(
        409,
        new GatewayError(ErrorCodes.INVALID_MESSAGE, 'This file_id has an upload in flight: resume it', {
          upload_id: admission.uploadId,
          upload_path: uploadPath(admission.uploadId),
        }),
      );
    }
    return { res, metadata: admission.metadata };
  }

  private async finish(req: IncomingMessage, upload: Upload): Promise<void> {
    const metadata = readMetadata(upload.metadata);
    if (!metadata || upload.size === undefined) return;
    try {
      await this.deps.listener.finished(upload.id, metadata, upload.size, this.deps.storage.downloadUrl(upload.id, this.deps.publicBase(req)));
    } catch (err) {
      // The bytes are stored: the client's upload succeeded even if its sockets were not told.
      this.deps.log.warn('upload finished but not announced', { upload_id: upload.id, user_id: metadata.user_id, error: String(err) });
    }
  }

  private terminated(req: IncomingMessage): void {
    const owned = this.owned.get(req);
    if (!owned) return;
    this.deps.admission.release(owned.metadata, owned.id).catch((err) => {
      this.deps.log.warn('terminated upload still counts as in flight until it expires', { upload_id: owned.id, error: String(err) });
    });
  }
}
