import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';

/** A tus 1.0 client of raw HTTP requests, so a test sees every status and header the gateway sends. */
export interface TusAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

const TUS = { 'tus-resumable': '1.0.0' };

const auth = (token: string | undefined): Record<string, string> => (token === undefined ? {} : { authorization: `Bearer ${token}` });

/** tus Upload-Metadata: `key base64(value)` pairs. */
export function tusMetadata(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');
}

async function answer(res: Response): Promise<TusAnswer> {
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** POST: creates an upload; resolves with the answer (Location on 201). */
export async function tusCreate(url: string, token: string | undefined, size: number, metadata: Record<string, string> = {}): Promise<TusAnswer> {
  return answer(await fetch(url, { method: 'POST', headers: { ...TUS, ...auth(token), 'upload-length': String(size), 'upload-metadata': tusMetadata(metadata) } }));
}

export async function tusHead(url: string, token: string | undefined): Promise<TusAnswer> {
  return answer(await fetch(url, { method: 'HEAD', headers: { ...TUS, ...auth(token) } }));
}

export async function tusPatch(url: string, token: string | undefined, offset: number, body: Uint8Array): Promise<TusAnswer> {
  return answer(
    await fetch(url, {
      method: 'PATCH',
      headers: { ...TUS, ...auth(token), 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
      body,
    }),
  );
}

export async function tusDelete(url: string, token: string | undefined): Promise<TusAnswer> {
  return answer(await fetch(url, { method: 'DELETE', headers: { ...TUS, ...auth(token) } }));
}

/**
 * A PATCH whose connection is cut after `cutAt` bytes of the body were written (the client dies
 * mid-upload): resolves once the socket is closed, whatever the server managed to store.
 */
export function tusPatchCut(url: string, token: string, offset: number, body: Uint8Array, cutAt: number): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest(url, {
      method: 'PATCH',
      headers: { ...TUS, ...auth(token), 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', 'content-length': String(body.byteLength) },
    });
    req.on('error', () => undefined);
    req.on('close', () => resolve());
    req.write(body.subarray(0, cutAt), () => {
      // Give the bytes a moment on the wire before the connection drops, as a real cut does.
      setImmediate(() => req.destroy());
    });
  });
}

/** GET with the bearer token; resolves with the status, headers and the body's sha256. */
export async function download(url: string, token: string | undefined): Promise<{ status: number; headers: Headers; sha256: string; bytes: number }> {
  const res = await fetch(url, { headers: auth(token) });
  const hash = createHash('sha256');
  let bytes = 0;
  if (res.body) {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      bytes += chunk.byteLength;
    }
  }
  return { status: res.status, headers: res.headers, sha256: hash.digest('hex'), bytes };
}

export const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
