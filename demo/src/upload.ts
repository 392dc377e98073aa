import { Upload } from 'tus-js-client';

/**
 * Sends a file's bytes to the upload the gateway created for it (`file_upload_start`'s ticket),
 * with tus-js-client: it asks the offset first (HEAD), so an interrupted upload resumes. The
 * progress bar follows the gateway's own `file_upload_progress` events, not this client's count.
 */
export function uploadFile(path: string, file: File, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const upload = new Upload(file, {
      uploadUrl: new URL(path, location.origin).href,
      headers: { Authorization: `Bearer ${token}` },
      chunkSize: 8 * 1024 * 1024,
      retryDelays: [0, 1000, 3000],
      storeFingerprintForResuming: false,
      onError: reject,
      onSuccess: () => resolve(),
    });
    upload.start();
  });
}
