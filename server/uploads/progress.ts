import type { UploadMetadata } from './metadata';

/** Uploads whose last reported offset this pod remembers (the oldest are forgotten first). */
const REMEMBERED = 10_000;

/**
 * Keeps each upload's progress events in order on the pod that receives its bytes. Tus reports
 * progress throttled per request and again when each request ends, and a throttled report can
 * fire after the request ended or the upload finished: only an offset beyond the last one sent goes
 * out, and nothing after `finished`, which always sends the 100% event itself.
 */
export class ProgressReporter {
  private readonly last = new Map<string, number>();

  constructor(private readonly send: (metadata: UploadMetadata, offset: number, size: number) => void) {}

  report(uploadId: string, metadata: UploadMetadata, offset: number, size: number): void {
    if (offset >= size || offset <= (this.last.get(uploadId) ?? -1)) return;
    this.remember(uploadId, offset);
    this.send(metadata, offset, size);
  }

  finished(uploadId: string, metadata: UploadMetadata, size: number): void {
    this.remember(uploadId, Number.POSITIVE_INFINITY);
    this.send(metadata, size, size);
  }

  private remember(uploadId: string, offset: number): void {
    this.last.delete(uploadId);
    this.last.set(uploadId, offset);
    if (this.last.size > REMEMBERED) this.last.delete(this.last.keys().next().value as string);
  }
}
