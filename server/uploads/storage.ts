import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileStore } from '@tus/file-store';
import { S3Store } from '@tus/s3-store';
import { ERRORS, type DataStore } from '@tus/utils';
import type { UploadsConfig } from '../config';
import { uploadPath } from './metadata';

/** Where uploads go, and what URL a finished one is fetched from. */
export interface UploadStorage {
  readonly store: DataStore;
  /**
   * The URL `file_upload_complete` carries: on disk, the gateway's own download route under `base`
   * (scheme and host the uploader used); on S3, the object's URL.
   */
  downloadUrl(uploadId: string, base: string): string;
}

/** Bytes the disk store gathers before a write: fewer, larger writes (several chunks per writev). */
const DISK_WRITE_BUFFER = 1024 * 1024;

/**
 * The disk store. Two differences from @tus/file-store's: its expiry sweep looks at the bytes on
 * disk (the library's reads the offset kept in each upload's `.json` record, which stays 0 after
 * creation, so it would remove finished files too once older than the expiry), and its writes go
 * straight from the request to a write stream with a 1 MiB buffer (the library adds a counting
 * Transform and writes through a 16 KiB buffer).
 */
class DiskStore extends FileStore {
  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    const out = createWriteStream(join(this.directory, id), { flags: 'r+', start: offset, highWaterMark: DISK_WRITE_BUFFER });
    try {
      await pipeline(readable, out);
    } catch {
      throw ERRORS.FILE_WRITE_ERROR;
    }
    return offset + out.bytesWritten;
  }

  override async deleteExpired(): Promise<number> {
    const expiry = this.getExpiration();
    if (expiry <= 0) return 0;
    const now = Date.now();
    let removed = 0;
    for (const id of (await this.configstore.list?.()) ?? []) {
      try {
        const upload = await this.getUpload(id);
        const created = upload.creation_date ? Date.parse(upload.creation_date) : now;
        if (upload.offset === upload.size || created + expiry > now) continue;
        await this.remove(id);
        removed++;
      } catch (err) {
        // A record whose file is gone (removed by another pod sharing the folder, or by hand).
        if (err === ERRORS.FILE_NO_LONGER_EXISTS) await Promise.resolve(this.configstore.delete(id)).catch(() => undefined);
      }
    }
    return removed;
  }
}

/** Bytes per S3 part: S3's minimum for every part but the last is 5 MiB. */
const S3_PART_BYTES = 8 * 1024 * 1024;

/**
 * Local disk (UPLOAD_DIR, created here) by default; an S3-compatible bucket when UPLOAD_S3_BUCKET is
 * set, with credentials from the AWS SDK's standard environment (AWS_ACCESS_KEY_ID, a profile, a
 * role). Called at start-up, never on import.
 */
export function createUploadStorage(config: UploadsConfig): UploadStorage {
  if (config.s3) {
    const { bucket, endpoint, region } = config.s3;
    const store = new S3Store({
      partSize: S3_PART_BYTES,
      expirationPeriodInMilliseconds: config.expiryMs,
      // A custom endpoint is an S3-compatible store (MinIO, Ceph, R2...): path-style URLs, and
      // checksums only where S3 requires them. The SDK's default sends streamed bodies
      // aws-chunked with checksum trailers, which many compatible stores do not decode (they store
      // the chunk framing as object bytes).
      s3ClientConfig: {
        bucket,
        region,
        ...(endpoint ? { endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
      },
    });
    const objectBase = endpoint ? `${endpoint.replace(/\/+$/, '')}/${bucket}` : `https://${bucket}.s3.${region}.amazonaws.com`;
    return { store, downloadUrl: (id) => `${objectBase}/${id}` };
  }
  mkdirSync(config.dir, { recursive: true, mode: 0o750 });
  const store = new DiskStore({ directory: config.dir, expirationPeriodInMilliseconds: config.expiryMs });
  return { store, downloadUrl: (id, base) => `${base}${uploadPath(id)}` };
}
