import { randomBytes } from 'node:crypto';

/**
 * Upload ids are made by the gateway (16 random bytes, hex) and are the only part of a request that
 * names a stored object: anything else in the id position of a URL is not an upload (404).
 */
export const UPLOAD_ID = /^[0-9a-f]{32}$/;

/** Where the tus endpoint is served, and an upload's own path under it (also its download path on disk). */
export const UPLOADS_PATH = '/api/v1/uploads';
export const uploadPath = (id: string): string => `${UPLOADS_PATH}/${id}`;

export const newUploadId = (): string => randomBytes(16).toString('hex');

/** The type of an upload that names none. */
export const DEFAULT_MIME_TYPE = 'application/octet-stream';

const MIME = /^([a-z0-9][a-z0-9!#$&^_.+-]*)\/([a-z0-9][a-z0-9!#$&^_.+-]*)$/;

/** `Text/CSV; charset=utf-8` → `text/csv`; anything not shaped like a MIME type → undefined. */
export function mimeEssence(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const essence = value.split(';', 1)[0].trim().toLowerCase();
  return MIME.test(essence) ? essence : undefined;
}

/** Whether a type matches one of UPLOAD_ALLOWED_TYPES (`*` wildcards per half); no patterns allow all. */
export function mimeAllowed(essence: string, patterns: readonly string[]): boolean {
  if (patterns.length === 0) return true;
  const [type, subtype] = essence.split('/');
  return patterns.some((pattern) => {
    const [t, s] = pattern.split('/');
    return (t === '*' || t === type) && (s === '*' || s === subtype);
  });
}

const MAX_NAME_BYTES = 200;

/**
 * A file name safe to store and to send back in `Content-Disposition`: the last path segment only
 * (`../../etc/passwd` → `passwd`, `C:\x\y.csv` → `y.csv`), no control characters, quotes or
 * characters file systems refuse, no leading dots, at most 200 bytes (the extension kept). Never
 * used as a path by the gateway, which stores under its own ids; kept safe for whoever downloads.
 */
export function sanitizeFilename(raw: string | null | undefined): string {
  const last = (raw ?? '').split(/[/\\]/).pop() ?? '';
  let name = last
    .normalize('NFC')
    .replace(/[\u0000-\u001f\u007f-\u009f"<>:|?*]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^[.\s]+/, '')
    .replace(/[.\s]+$/, '');
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    const dot = name.lastIndexOf('.');
    const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
    let stem = name.slice(0, name.length - ext.length);
    while (Buffer.byteLength(stem + ext) > MAX_NAME_BYTES) stem = [...stem].slice(0, -1).join('');
    name = stem + ext;
  }
  return name || 'file';
}

/** What the gateway stores with every upload (tus metadata: strings only). */
export interface UploadMetadata {
  readonly filename: string;
  readonly filetype: string;
  readonly file_id: string;
  readonly user_id: string;
  [key: string]: string;
}

/** The stored metadata of an upload, when it has the gateway's fields (uploads made by something else have not). */
export function readMetadata(metadata: Record<string, string | null> | undefined): UploadMetadata | undefined {
  const m = metadata ?? {};
  if (typeof m.user_id !== 'string' || typeof m.file_id !== 'string') return undefined;
  return { filename: m.filename ?? 'file', filetype: m.filetype ?? DEFAULT_MIME_TYPE, file_id: m.file_id, user_id: m.user_id };
}
