import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tus from 'tus-js-client';
import type { Gateway } from '../server/gateway';
import { closeClients, collect, connectV4, request, waitFor } from './support/clients';
import { startGateway, stopGateways, urlOf } from './support/gateway';
import { useRedis } from './support/lifecycle';
import { closeNatives, connectWorkspace } from './support/native';
import { token } from './support/tokens';
import { download, sha256, tusHead, tusPatch, tusPatchCut } from './support/tus';

// Registered before useRedis(): Jest runs afterAll hooks in order, and the pods must stop before their Redis.
afterAll(async () => {
  await stopGateways();
  rmSync(dir, { recursive: true, force: true });
});
const redis = useRedis();
const MB = 1024 * 1024;
let dir: string;
let podA: Gateway;
let podB: Gateway;
const alice = token({ sub: 'alice' });

// Two pods on one Redis, sharing one upload folder (as pods sharing a volume do): a socket on pod A,
// the bytes through pod B.
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rg-uploads-'));
  const env = { REDIS_URL: redis.url, UPLOAD_DIR: dir, UPLOAD_PROGRESS_INTERVAL_MS: '10', UPLOAD_MAX_IN_FLIGHT: '50' };
  podA = await startGateway(env);
  podB = await startGateway(env);
});
afterEach(() => {
  closeClients();
  closeNatives();
});

/** Every progress event's bytes grow, never pass the total, and the last is 100% with every byte. */
function expectOrderedProgress(events: Array<{ bytes_uploaded: number; total_bytes: number; percentage: number; file_id: string; user_id: string }>, fileId: string, total: number) {
  const mine = events.filter((e) => e.file_id === fileId);
  expect(mine.length).toBeGreaterThanOrEqual(2);
  for (let i = 1; i < mine.length; i++) expect(mine[i].bytes_uploaded).toBeGreaterThan(mine[i - 1].bytes_uploaded);
  for (const e of mine) {
    expect(e).toMatchObject({ total_bytes: total, user_id: 'alice' });
    expect(e.percentage).toBe(e.bytes_uploaded === total ? 100 : Math.floor((e.bytes_uploaded / total) * 10_000) / 100);
  }
  expect(mine[mine.length - 1]).toMatchObject({ bytes_uploaded: total, percentage: 100 });
}

describe('uploads through the tus endpoint', () => {
  it('take 50 MB on pod B while the uploader listens on pod A: ordered progress, then complete with a URL serving the same bytes', async () => {
    const socket = await connectV4(urlOf(podA), alice, { namespace: '/uploads' });
    const otherTab = await connectV4(urlOf(podA), alice);
    const progress = collect(socket, 'file_upload_progress');
    const data = randomBytes(50 * MB);

    const ticket = await request(socket, 'file_upload_start', { file_id: 'big-1', filename: 'data.bin', file_size: data.length, mime_type: 'application/octet-stream' });
    expect(ticket).toMatchObject({ ok: true, file_id: 'big-1', offset: 0, total_bytes: data.length, upload_path: `/api/v1/uploads/${ticket.upload_id}` });
    expect(ticket.upload_id).toMatch(/^[0-9a-f]{32}$/);
    expect(ticket.upload_url).toBe(urlOf(podA, ticket.upload_path));
    expect(Date.parse(ticket.expires_at)).toBeGreaterThan(Date.now());

    const complete = waitFor(socket, 'file_upload_complete', (e) => e.file_id === 'big-1', 30_000);
    const completeElsewhere = waitFor(otherTab, 'file_upload_complete', (e) => e.file_id === 'big-1', 30_000);
    const patched = await tusPatch(urlOf(podB, ticket.upload_path), alice, 0, data);
    expect(patched.status).toBe(204);
    expect(patched.headers.get('upload-offset')).toBe(String(data.length));

    const done = await complete;
    expect(done).toEqual({ file_id: 'big-1', filename: 'data.bin', url: urlOf(podB, ticket.upload_path), user_id: 'alice', file_size: data.length, mime_type: 'application/octet-stream' });
    expect(await completeElsewhere).toEqual(done);
    expectOrderedProgress(progress, 'big-1', data.length);

    const fetched = await download(done.url, alice);
    expect(fetched).toMatchObject({ status: 200, bytes: data.length, sha256: sha256(data) });
    expect(fetched.headers.get('content-type')).toBe('application/octet-stream');
    expect(fetched.headers.get('content-disposition')).toBe('attachment; filename="data.bin"');
  });

  it('resume after the connection is cut at half: HEAD gives the offset, file_upload_start again gives the same upload, the rest completes it identically', async () => {
    const socket = await connectV4(urlOf(podA), alice, { namespace: '/uploads' });
    const progress = collect(socket, 'file_upload_progress');
    const data = randomBytes(8 * MB);
    const ticket = await request(socket, 'file_upload_start', { file_id: 'cut-1', filename: 'table.csv', file_size: data.length, mime_type: 'text/csv' });
    const url = urlOf(podB, ticket.upload_path);

    await tusPatchCut(url, alice, 0, data, data.length / 2);
    const head = await tusHead(url, alice);
    expect(head.status).toBe(200);
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(data.length / 2);
    expect(head.headers.get('upload-length')).toBe(String(data.length));

    // The client reconnects and announces the file again: the same upload, from where it stopped.
    const again = await request(socket, 'file_upload_start', { file_id: 'cut-1', filename: 'table.csv', file_size: data.length, mime_type: 'text/csv' });
    expect(again).toMatchObject({ ok: true, upload_id: ticket.upload_id, offset });
    // Announced with another size, the file id is refused rather than silently restarted.
    const clash = await request(socket, 'file_upload_start', { file_id: 'cut-1', filename: 'table.csv', file_size: data.length + 1, mime_type: 'text/csv' });
    expect(clash).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    // A PATCH from a wrong offset is refused without touching the bytes.
    expect((await tusPatch(url, alice, 0, data.subarray(0, 10))).status).toBe(409);

    const complete = waitFor(socket, 'file_upload_complete', (e) => e.file_id === 'cut-1', 30_000);
    const rest = await tusPatch(urlOf(podA, ticket.upload_path), alice, offset, data.subarray(offset));
    expect(rest.status).toBe(204);
    const done = await complete;
    expect(done).toMatchObject({ file_id: 'cut-1', filename: 'table.csv', mime_type: 'text/csv', file_size: data.length });
    expectOrderedProgress(progress, 'cut-1', data.length);
    const fetched = await download(done.url, alice);
    expect(fetched).toMatchObject({ status: 200, sha256: sha256(data) });
    expect(fetched.headers.get('content-type')).toBe('text/csv');
  });

  it('work with tus-js-client: its own creation with metadata, and resuming the URL file_upload_start gave, in chunks', async () => {
    const socket = await connectV4(urlOf(podA), alice, { namespace: '/uploads' });
    const first = randomBytes(3 * MB);
    const created = waitFor(socket, 'file_upload_complete', (e) => e.file_id === 'js-1', 15_000);
    const location = await new Promise<string>((resolve, reject) => {
      const upload = new tus.Upload(first, {
        endpoint: urlOf(podB, '/api/v1/uploads'),
        headers: { Authorization: `Bearer ${alice}` },
        metadata: { filename: 'photo.png', filetype: 'image/png', file_id: 'js-1' },
        retryDelays: [],
        onError: reject,
        onSuccess: () => resolve(upload.url as string),
      });
      upload.start();
    });
    expect(location).toMatch(new RegExp(`^${urlOf(podB, '/api/v1/uploads/')}[0-9a-f]{32}$`));
    expect(await created).toMatchObject({ file_id: 'js-1', filename: 'photo.png', mime_type: 'image/png', url: location, user_id: 'alice' });
    const fetched = await download(location, alice);
    expect(fetched).toMatchObject({ status: 200, sha256: sha256(first) });
    expect(fetched.headers.get('content-disposition')).toBe('inline; filename="photo.png"');

    const second = randomBytes(3 * MB);
    const ticket = await request(socket, 'file_upload_start', { file_id: 'js-2', filename: 'report.pdf', file_size: second.length, mime_type: 'application/pdf' });
    const progressed: number[] = [];
    const complete = waitFor(socket, 'file_upload_complete', (e) => e.file_id === 'js-2', 15_000);
    await new Promise<void>((resolve, reject) => {
      const upload = new tus.Upload(second, {
        uploadUrl: ticket.upload_url,
        headers: { Authorization: `Bearer ${alice}` },
        chunkSize: MB,
        retryDelays: [],
        onProgress: (sent) => progressed.push(sent),
        onError: reject,
        onSuccess: () => resolve(),
      });
      upload.start();
    });
    expect(progressed[progressed.length - 1]).toBe(second.length);
    expect(await complete).toMatchObject({ file_id: 'js-2', filename: 'report.pdf', url: ticket.upload_url });
    const pdf = await download(ticket.upload_url, alice);
    expect(pdf).toMatchObject({ status: 200, sha256: sha256(second) });
    // A type a browser could run is never shown inline.
    expect(pdf.headers.get('content-disposition')).toBe('attachment; filename="report.pdf"');
  });

  it('speak seed 002 to native clients: file_upload_started answers the start, progress and complete arrive as flat frames', async () => {
    const native = await connectWorkspace(podA, alice);
    const data = randomBytes(2 * MB);
    native.send({ type: 'file_upload_start', file_id: 'native-1', filename: 'data.csv', file_size: data.length, mime_type: 'text/csv' });
    const started = await native.next('file_upload_started');
    expect(started).toMatchObject({ type: 'file_upload_started', file_id: 'native-1', offset: 0, total_bytes: data.length });
    expect((await tusPatch(urlOf(podB, started.upload_path), alice, 0, data)).status).toBe(204);
    const done = await native.next('file_upload_complete');
    expect(done).toEqual({ type: 'file_upload_complete', file_id: 'native-1', filename: 'data.csv', url: urlOf(podB, started.upload_path), user_id: 'alice', file_size: data.length, mime_type: 'text/csv' });
    const progress = native.take('file_upload_progress');
    expect(progress[progress.length - 1]).toMatchObject({ type: 'file_upload_progress', file_id: 'native-1', bytes_uploaded: data.length, percentage: 100 });
  });
});
