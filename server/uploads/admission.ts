import { ErrorCodes, GatewayError } from '../../shared/errors';
import type { Principal } from '../auth/principal';
import type { UploadRegistry } from '../cluster/uploads';
import type { UploadsConfig } from '../config';
import { DEFAULT_MIME_TYPE, mimeAllowed, mimeEssence, sanitizeFilename, type UploadMetadata } from './metadata';

/** What a client says of a file before sending it: `file_upload_start`, or a tus POST's headers and metadata. */
export interface Announcement {
  /** The client's name for the file; a tus POST without one uses the upload id. */
  readonly fileId?: string;
  readonly filename?: string | null;
  readonly size: number;
  readonly mimeType?: string | null;
}

/** The detail of a refusal for the file's type, which HTTP answers with 415. */
export const UNSUPPORTED_TYPE = 'unsupported_type';

export type Admission =
  | { readonly status: 'created'; readonly metadata: UploadMetadata }
  | { readonly status: 'existing'; readonly uploadId: string };

/**
 * The limits every new upload passes, whichever way it is announced: UPLOAD_MAX_BYTES
 * (MESSAGE_TOO_LARGE, HTTP 413), UPLOAD_ALLOWED_TYPES (INVALID_MESSAGE with reason
 * `unsupported_type`, HTTP 415), UPLOAD_MAX_IN_FLIGHT per user across pods (RATE_LIMIT_EXCEEDED,
 * 429). Admitted, it has the metadata the gateway stores with it: a sanitized file name, the type's
 * essence, the file id and the owner (whatever the client sent under those names).
 */
export class UploadAdmission {
  constructor(
    private readonly config: UploadsConfig,
    private readonly registry: UploadRegistry,
  ) {}

  /** Refuses a file the limits do not allow; answers its type's essence. */
  check(a: Pick<Announcement, 'size' | 'mimeType'>): string {
    if (a.size > this.config.maxBytes) {
      throw new GatewayError(ErrorCodes.MESSAGE_TOO_LARGE, `File larger than ${this.config.maxBytes} bytes`, { max_bytes: this.config.maxBytes, file_size: a.size });
    }
    const type = mimeEssence(a.mimeType) ?? DEFAULT_MIME_TYPE;
    if (!mimeAllowed(type, this.config.allowedTypes)) {
      throw new GatewayError(ErrorCodes.INVALID_MESSAGE, `File type ${type} is not accepted`, {
        reason: UNSUPPORTED_TYPE,
        allowed_types: this.config.allowedTypes,
        issues: [{ path: 'mime_type', message: `must match one of ${this.config.allowedTypes.join(', ')}` }],
      });
    }
    return type;
  }

  /** Checks the limits and takes one of the user's in-flight places for upload `uploadId`. */
  async admit(principal: Principal, uploadId: string, a: Announcement): Promise<Admission> {
    const filetype = this.check(a);
    const fileId = a.fileId ?? uploadId;
    const expiresAt = Date.now() + this.config.expiryMs;
    const place = await this.registry.begin(principal.userId, fileId, uploadId, expiresAt, this.config.maxInFlightPerUser);
    if (place.status === 'existing') return place;
    if (place.status === 'limit') {
      throw new GatewayError(ErrorCodes.RATE_LIMIT_EXCEEDED, `At most ${this.config.maxInFlightPerUser} uploads in flight per user`, {
        scope: 'uploads',
        in_flight: place.inFlight,
        max_in_flight: this.config.maxInFlightPerUser,
      });
    }
    const metadata: UploadMetadata = { filename: sanitizeFilename(a.filename), filetype, file_id: fileId, user_id: principal.userId };
    return { status: 'created', metadata };
  }

  /** Frees the place of an upload that will not go on (finished, terminated, found gone). */
  release(metadata: UploadMetadata, uploadId: string): Promise<void> {
    return this.registry.end(metadata.user_id, metadata.file_id, uploadId);
  }

  /** The upload in flight for the user's file, if any. */
  inFlight(userId: string, fileId: string): Promise<string | undefined> {
    return this.registry.find(userId, fileId);
  }
}
