import { z } from 'zod';
import { defineClientMessages, defineServerMessages, message } from './define';

/**
 * Uploads. Seed 002 section 8: `file_upload_start`, `file_upload_progress`, `file_upload_complete`.
 * Served on `/uploads`. Two flows:
 * - The gateway takes the bytes: `file_upload_start` answers with a tus 1.0 upload URL
 *   (`/api/v1/uploads/<upload_id>`); while bytes arrive there, on any pod, the gateway sends
 *   `file_upload_progress` and then `file_upload_complete` (with a download URL) to every socket of
 *   the uploader on every pod.
 * - The client stores the file elsewhere (the seed's flow): its own `file_upload_progress` and
 *   `file_upload_complete` are checked (monotonic, at most the total) and relayed to the rooms the
 *   uploader is in.
 */

/** The client's name for a file: chosen by the client, never used as a path. */
export const FileId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');
/** A file name as the client gives it; the gateway keeps a sanitized copy (no directories, no control characters). */
export const FileName = z.string().min(1).max(1024);
/** A MIME type as `type/subtype`, parameters allowed (`text/csv; charset=utf-8`). */
export const MimeType = z
  .string()
  .max(255)
  .regex(/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;.*)?$/, 'must be a MIME type like text/csv');
const ByteCount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Where and how to send a file's bytes: the answer to `file_upload_start`. */
export const UploadTicket = z.object({
  file_id: z.string(),
  /** The gateway's id of the upload (32 hex digits): the last segment of its URLs. */
  upload_id: z.string(),
  /** The tus upload URL, absolute, built from the Host the client connected to. */
  upload_url: z.string(),
  /** The same URL's path, for a client behind a proxy that rewrites hosts. */
  upload_path: z.string(),
  /** Bytes the gateway already holds: 0 for a new upload, more when a started one is resumed. */
  offset: ByteCount,
  total_bytes: ByteCount,
  /** After this instant an unfinished upload is refused (410) and removed. */
  expires_at: z.string(),
});
export type UploadTicket = z.infer<typeof UploadTicket>;

const Progress = z
  .object({
    file_id: FileId,
    bytes_uploaded: ByteCount,
    total_bytes: ByteCount.min(1),
    /** Ignored on input: the gateway computes it from the two counts. */
    percentage: z.number().min(0).max(100).optional(),
  })
  .refine((p) => p.bytes_uploaded <= p.total_bytes, { message: 'must be at most total_bytes', path: ['bytes_uploaded'] });

export const uploadClientMessages = defineClientMessages('/uploads', {
  /**
   * Announces a file. Refused with MESSAGE_TOO_LARGE above UPLOAD_MAX_BYTES, INVALID_MESSAGE for a
   * type outside UPLOAD_ALLOWED_TYPES, RATE_LIMIT_EXCEEDED with UPLOAD_MAX_IN_FLIGHT unfinished
   * uploads. Sent again for a file_id still in flight, it answers with the same upload and its
   * current offset (resume after a reconnect).
   */
  file_upload_start: message({
    schema: z.object({ file_id: FileId, filename: FileName, file_size: ByteCount, mime_type: MimeType }),
    rate: 'request',
    ack: UploadTicket,
    reply: 'file_upload_started',
  }),
});

/**
 * The seed's relay types go to the rooms the sender is in, so they are served where rooms are
 * joined (`/workspace`) as well as on `/uploads`.
 */
export const uploadRelayClientMessages = defineClientMessages(['/uploads', '/workspace'], {
  /** The seed's relay: progress of a file the client stores elsewhere, to the rooms it is in. */
  file_upload_progress: message({ schema: Progress, rate: 'stream', maxBytes: 1024 }),
  /** The seed's relay: a file the client stored elsewhere is complete; `url` must be http(s). */
  file_upload_complete: message({
    schema: z.object({
      file_id: FileId,
      filename: FileName,
      url: z
        .string()
        .max(2048)
        .url()
        .refine((u) => /^https?:\/\//i.test(u), 'must be an http:// or https:// URL'),
      file_size: ByteCount.optional(),
      mime_type: MimeType.optional(),
    }),
    rate: 'request',
    maxBytes: 4096,
  }),
});

export const FileUploadProgressEvent = z.object({
  file_id: z.string(),
  bytes_uploaded: z.number().int(),
  total_bytes: z.number().int(),
  /** 0 to 100, two decimals, never 100 before every byte arrived. */
  percentage: z.number(),
  /** The uploader. */
  user_id: z.string(),
});

export const FileUploadCompleteEvent = z.object({
  file_id: z.string(),
  filename: z.string(),
  /** Where to fetch the file: the gateway's download URL (with the same bearer token), or the object's URL on S3. */
  url: z.string(),
  user_id: z.string(),
  file_size: z.number().int().optional(),
  mime_type: z.string().optional(),
});

export const uploadServerMessages = defineServerMessages(['/uploads', '/workspace'], {
  file_upload_progress: FileUploadProgressEvent,
  file_upload_complete: FileUploadCompleteEvent,
});

export const uploadStartServerMessages = defineServerMessages('/uploads', {
  /** The answer to file_upload_start for a client that sent no ack callback (native clients). */
  file_upload_started: UploadTicket,
});

/** A percentage with two decimals that reaches 100 only with the last byte. */
export function uploadPercentage(bytes: number, total: number): number {
  if (total <= 0) return 0;
  if (bytes >= total) return 100;
  return Math.min(99.99, Math.floor((bytes / total) * 10_000) / 100);
}
