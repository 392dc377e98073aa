import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gateway } from '../server/gateway';
import { closeClients, collect, connectV4, request, waitFor } from './support/clients';
import { startGateway, stopGateways, urlOf } from './support/gateway';
import { startLocalS3, type LocalS3 } from './support/s3';
import { token } from './support/tokens';
import { download, sha256, tusHead, tusPatch, tusPatchCut } from './support/tus';

const MB = 1024 * 1024;
const BUCKET = 'gateway-uploads';
/** s3rver's own fixed credentials; the AWS SDK reads them from its standard environment variables. */
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

let dir: string;
let s3: LocalS3 | undefined;
let endpoint = '';
let unavailable = '';
let gw: Gateway;
const saved: Record<string, string | undefined> = {};
const alice = token({ sub: 'alice' });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rg-s3-'));
  try {
    s3 = await startLocalS3(dir, BUCKET);
    endpoint = s3.endpoint;
  } catch (err) {
    unavailable = String(err);
    return;
  }
  for (const [k, v] of Object.entries(CREDENTIALS)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  gw = await startGateway({ UPLOAD_S3_BUCKET: BUCKET, UPLOAD_S3_ENDPOINT: endpoint, UPLOAD_S3_REGION: 'us-east-1', UPLOAD_PROGRESS_INTERVAL_MS: '10' });
});
afterEach(closeClients);
afterAll(async () => {
  await stopGateways();
  await s3?.close();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(dir, { recursive: true, force: true });
});

/** False (and says why) when the local S3 server could not start: the test is skipped, not failed. */
function s3Running(): boolean {
  if (s3) return true;
  console.warn(`SKIPPED: the local S3-compatible server (s3rver) could not start: ${unavailable}`);
  return false;
}

describe('uploads to an S3-compatible bucket', () => {
  it('take a file in parts, resumed after a cut, and complete with the object URL holding the same bytes', async () => {
    if (!s3Running()) return;
    const socket = await connectV4(urlOf(gw), alice, { namespace: '/uploads' });
    const progress = collect(socket, 'file_upload_progress');
    // Above the 8 MiB part size: one whole part, then the rest as the last part.
    const data = randomBytes(12 * MB);
    const ticket = await request(socket, 'file_upload_start', { file_id: 's3-1', filename: 'export.csv', file_size: data.length, mime_type: 'text/csv' });
    expect(ticket).toMatchObject({ ok: true, offset: 0, total_bytes: data.length });
    const url = urlOf(gw, ticket.upload_path);

    await tusPatchCut(url, alice, 0, data, 10 * MB);
    const offset = Number((await tusHead(url, alice)).headers.get('upload-offset'));
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(10 * MB);

    const complete = waitFor(socket, 'file_upload_complete', (e) => e.file_id === 's3-1', 30_000);
    expect((await tusPatch(url, alice, offset, data.subarray(offset))).status).toBe(204);
    const done = await complete;
    expect(done).toEqual({ file_id: 's3-1', filename: 'export.csv', url: `${endpoint}/${BUCKET}/${ticket.upload_id}`, user_id: 'alice', file_size: data.length, mime_type: 'text/csv' });
    expect(progress[progress.length - 1]).toMatchObject({ file_id: 's3-1', bytes_uploaded: data.length, percentage: 100 });

    // The object itself, from the bucket, and the same bytes through the gateway's authenticated route.
    const object = await download(done.url, undefined);
    expect(object).toMatchObject({ status: 200, bytes: data.length, sha256: sha256(data) });
    expect(await download(url, alice)).toMatchObject({ status: 200, sha256: sha256(data) });
    expect((await download(url, token({ sub: 'bob' }))).status).toBe(404);
  });
});
