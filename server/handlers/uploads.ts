import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { Upload } from '@tus/utils';
import { ErrorCodes, GatewayError } from '../../shared/errors';
import { uploadPercentage, type UploadTicket } from '../../shared/messages/uploads';
import { userRoom } from '../../shared/rooms';
import { peerIsTrustedProxy } from '../auth/client-address';
import { createOriginCheck } from '../auth/origins';
import { uploadRoutes } from '../http/uploads';
import { UploadAdmission } from '../uploads/admission';
import { newUploadId, uploadPath, type UploadMetadata } from '../uploads/metadata';
import { ProgressReporter } from '../uploads/progress';
import { registerUploadRelay } from '../uploads/relay';
import { createUploadStorage } from '../uploads/storage';
import { UploadEndpoint } from '../uploads/tus';
import type { Feature } from './context';

/**
 * Scheme and host a client reached the gateway by: X-Forwarded-Proto and X-Forwarded-Host count
 * only when the request came straight from a proxy TRUST_PROXY trusts (anyone else could name any
 * host, and the upload URL handed back would point there).
 */
function publicBase(headers: IncomingHttpHeaders, secure: boolean, forwarded: boolean): string {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();
  const proto = (forwarded && first(headers['x-forwarded-proto'])) || (secure ? 'https' : 'http');
  const host = (forwarded && first(headers['x-forwarded-host'])) || headers.host || 'localhost';
  return `${proto === 'https' ? 'https' : 'http'}://${host}`;
}

/** How often expired unfinished uploads are looked for: a quarter of the expiry, between 1 s and 15 min. */
const sweepInterval = (expiryMs: number) => Math.min(15 * 60_000, Math.max(1000, Math.floor(expiryMs / 4)));

/**
 * Uploads (seed 002 section 8), on `/uploads`. The gateway takes the bytes through a tus 1.0
 * endpoint at /api/v1/uploads (server/uploads/tus.ts), on any pod, to local disk or S3; the
 * uploader's sockets, on every pod, hear `file_upload_progress` (throttled, the last always sent)
 * and `file_upload_complete` with the download URL. `file_upload_start` announces a file and answers
 * with its upload URL. The seed's relay flow, for files stored elsewhere, is server/uploads/relay.ts.
 */
export const registerUploads: Feature = (ctx) => {
  const config = ctx.config.uploads;
  const log = ctx.logger.child({ module: 'uploads' });
  const storage = createUploadStorage(config);
  const admission = new UploadAdmission(config, ctx.stores.uploads);
  const trustedProxy = peerIsTrustedProxy(ctx.config.trustProxy);

  const progressEvent = (metadata: UploadMetadata, offset: number, size: number) => {
    ctx.rooms.toInternal(userRoom(metadata.user_id), 'file_upload_progress', {
      file_id: metadata.file_id,
      bytes_uploaded: offset,
      total_bytes: size,
      percentage: uploadPercentage(offset, size),
      user_id: metadata.user_id,
    });
  };
  const progress = new ProgressReporter(progressEvent);

  const endpoint = new UploadEndpoint({
    storage,
    admission,
    maxBytes: config.maxBytes,
    progressIntervalMs: config.progressIntervalMs,
    log,
    publicBase: (req: IncomingMessage) =>
      publicBase(req.headers, Boolean((req.socket as TLSSocket).encrypted), trustedProxy(req.socket.remoteAddress)),
    listener: {
      progress: (id, metadata, offset, size) => progress.report(id, metadata, offset, size),
      finished: async (id, metadata, size, url) => {
        progress.finished(id, metadata, size);
        await admission.release(metadata, id);
        ctx.rooms.toInternal(userRoom(metadata.user_id), 'file_upload_complete', {
          file_id: metadata.file_id,
          filename: metadata.filename,
          url,
          user_id: metadata.user_id,
          file_size: size,
          mime_type: metadata.filetype,
        });
        log.info('upload complete', { upload_id: id, user_id: metadata.user_id, bytes: size });
      },
    },
  });

  // Requests under way: a pod that drains ends them, and the clients resume on another pod.
  const running = new Set<IncomingMessage>();
  ctx.http.use(
    uploadRoutes({
      endpoint,
      verify: ctx.verify,
      originAllowed: createOriginCheck(ctx.config.allowedOrigins),
      track: (req) => {
        running.add(req);
        req.once('close', () => running.delete(req));
      },
    }),
  );
  const endRunning = () => {
    for (const req of running) req.destroy();
    running.clear();
  };
  ctx.onDrain(async () => endRunning());

  const sweeper = setInterval(() => {
    endpoint.sweep().then(
      (removed) => removed > 0 && log.info('expired uploads removed', { removed }),
      (err) => log.warn('expired uploads not swept', { error: String(err) }),
    );
  }, sweepInterval(config.expiryMs));
  sweeper.unref();

  const ticket = (upload: Upload, fileId: string, base: string): UploadTicket => ({
    file_id: fileId,
    upload_id: upload.id,
    upload_url: `${base}${uploadPath(upload.id)}`,
    upload_path: uploadPath(upload.id),
    offset: upload.offset,
    total_bytes: upload.size ?? 0,
    expires_at: new Date(Date.parse(upload.creation_date ?? new Date().toISOString()) + config.expiryMs).toISOString(),
  });

  ctx.handle('file_upload_start', async ({ file_id, filename, file_size, mime_type }, call) => {
    const { handshake, conn } = call.socket;
    // The engine connection's peer (kept from its first request: a polling client's may be closed since).
    const base = publicBase(handshake.headers, handshake.secure, trustedProxy(conn.remoteAddress));
    for (let attempt = 0; ; attempt++) {
      const id = newUploadId();
      const admitted = await admission.admit(call.principal, id, { fileId: file_id, filename, size: file_size, mimeType: mime_type });
      if (admitted.status === 'created') {
        const upload = new Upload({ id, size: file_size, offset: 0, metadata: admitted.metadata });
        try {
          await storage.store.create(upload);
        } catch (err) {
          await admission.release(admitted.metadata, id).catch(() => undefined);
          log.error('upload not created in storage', { user_id: call.principal.userId, error: String(err) });
          throw new GatewayError(ErrorCodes.UPSTREAM_UNAVAILABLE, 'Upload storage unavailable, try again');
        }
        return ticket(upload, file_id, base);
      }
      // The file is in flight already (sent again after a reconnect): the same upload, from where it is.
      const existing = await storage.store.getUpload(admitted.uploadId).catch(() => undefined);
      if (existing === undefined && attempt === 0) {
        // Gone from storage (expired, removed): its place is freed and the file starts afresh.
        await ctx.stores.uploads.end(call.principal.userId, file_id, admitted.uploadId);
        continue;
      }
      if (existing === undefined || existing.size !== file_size) {
        throw new GatewayError(ErrorCodes.INVALID_MESSAGE, `file_id ${file_id} has an upload in flight of another size`, {
          issues: [{ path: 'file_size', message: `the upload in flight for this file_id is ${existing?.size ?? 'unknown'} bytes` }],
        });
      }
      return ticket(existing, file_id, base);
    }
  });

  registerUploadRelay(ctx, admission);

  return () => {
    clearInterval(sweeper);
    endRunning();
  };
};
