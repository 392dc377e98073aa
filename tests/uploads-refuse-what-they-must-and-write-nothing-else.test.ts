import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gateway } from '../server/gateway';
import { closeClients, collect, connectV4, request, waitFor } from './support/clients';
import { startGateway, stopGateways, urlOf } from './support/gateway';
import { token } from './support/tokens';
import { download, sha256, tusCreate, tusDelete, tusHead, tusPatch } from './support/tus';

const KB = 1024;
let root: string;
let dir: string;
let gw: Gateway;
const alice = token({ sub: 'alice' });
const bob = token({ sub: 'bob' });
const uploads = () => urlOf(gw, '/api/v1/uploads');

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'rg-upload-refusals-'));
  dir = join(root, 'uploads');
  gw = await startGateway({
    UPLOAD_DIR: dir,
    UPLOAD_MAX_BYTES: String(256 * KB),
    UPLOAD_ALLOWED_TYPES: 'text/csv,image/*,application/octet-stream',
    UPLOAD_MAX_IN_FLIGHT: '2',
  });
});
afterEach(closeClients);
afterAll(async () => {
  await stopGateways();
  rmSync(root, { recursive: true, force: true });
});

/** Creates an upload of `size` bytes for `who` and answers its URL. */
async function create(who: string, size: number, metadata: Record<string, string> = {}): Promise<string> {
  const created = await tusCreate(uploads(), who, size, { filename: 'a.csv', filetype: 'text/csv', ...metadata });
  expect(created.status).toBe(201);
  return urlOf(gw, created.headers.get('location')!);
}

/** A raw request with the path exactly as written (fetch would normalize `..`). */
function rawRequest(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: gw.port, method, path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the upload endpoint refuses', () => {
  it('without a valid token: 401 with WWW-Authenticate, on every method; only the CORS preflight needs none', async () => {
    const url = await create(alice, 10);
    const expired = token({ sub: 'alice' }, { expiresIn: -10 });
    for (const who of [undefined, 'not-a-jwt', expired]) {
      const created = await tusCreate(uploads(), who, 10);
      expect(created.status).toBe(401);
      expect(JSON.parse(created.body)).toMatchObject({ code: 'AUTHENTICATION_FAILED' });
      expect(created.headers.get('www-authenticate')).toBe('Bearer');
      expect((await tusHead(url, who)).status).toBe(401);
      expect((await tusPatch(url, who, 0, Buffer.from('0123456789'))).status).toBe(401);
      expect((await download(url, who)).status).toBe(401);
      expect((await tusDelete(url, who)).status).toBe(401);
    }
    const preflight = await fetch(uploads(), { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('tus-max-size')).toBe(String(256 * KB));
    expect(preflight.headers.get('tus-extension')).toContain('creation');
  });

  it("another user's upload as if it did not exist: 404 for HEAD, PATCH, GET and DELETE, and it stays intact", async () => {
    const data = randomBytes(20);
    const owner = token({ sub: 'olivia' });
    const url = await create(owner, data.length);
    expect((await tusHead(url, bob)).status).toBe(404);
    expect((await tusPatch(url, bob, 0, data)).status).toBe(404);
    expect((await tusDelete(url, bob)).status).toBe(404);
    expect((await tusHead(url, owner)).headers.get('upload-offset')).toBe('0');
    expect((await tusPatch(url, owner, 0, data)).status).toBe(204);
    expect((await download(url, bob)).status).toBe(404);
    expect(await download(url, owner)).toMatchObject({ status: 200, sha256: sha256(data) });
    // An id the gateway never made is the same 404.
    expect((await tusHead(`${uploads()}/${'0'.repeat(32)}`, owner)).status).toBe(404);
  });

  it('too big (413) and types outside UPLOAD_ALLOWED_TYPES (415), at creation and at file_upload_start', async () => {
    const big = await tusCreate(uploads(), alice, 256 * KB + 1, { filename: 'a.csv', filetype: 'text/csv' });
    expect(big.status).toBe(413);
    const html = await tusCreate(uploads(), alice, 10, { filename: 'page.html', filetype: 'text/html' });
    expect(html.status).toBe(415);
    expect(JSON.parse(html.body)).toMatchObject({ code: 'INVALID_MESSAGE', reason: 'unsupported_type' });
    expect((await tusCreate(uploads(), alice, 10, { filename: 'cat.png', filetype: 'image/png' })).status).toBe(201);
    // No Upload-Length (a deferred length) is not accepted: the limits need the size up front.
    const deferred = await fetch(uploads(), { method: 'POST', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${alice}`, 'upload-defer-length': '1' } });
    expect(deferred.status).toBe(400);

    const socket = await connectV4(urlOf(gw), alice, { namespace: '/uploads' });
    const tooBig = await request(socket, 'file_upload_start', { file_id: 'f', filename: 'a.csv', file_size: 256 * KB + 1, mime_type: 'text/csv' });
    expect(tooBig).toMatchObject({ ok: false, error: { code: 'MESSAGE_TOO_LARGE', max_bytes: 256 * KB } });
    const wrongType = await request(socket, 'file_upload_start', { file_id: 'f', filename: 'a.exe', file_size: 10, mime_type: 'application/x-msdownload' });
    expect(wrongType).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE', reason: 'unsupported_type', issues: [{ path: 'mime_type' }] } });
    const notMime = await request(socket, 'file_upload_start', { file_id: 'f', filename: 'a.csv', file_size: 10, mime_type: 'csv' });
    expect(notMime).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE', issues: [{ path: 'mime_type' }] } });
  });

  it('more than UPLOAD_MAX_IN_FLIGHT unfinished uploads per user (429), until one finishes or is terminated', async () => {
    const carol = token({ sub: 'carol' });
    const first = await create(carol, 4);
    const second = await create(carol, 4);
    const third = await tusCreate(uploads(), carol, 4, { filename: 'c.csv', filetype: 'text/csv' });
    expect(third.status).toBe(429);
    expect(JSON.parse(third.body)).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', max_in_flight: 2 });
    const socket = await connectV4(urlOf(gw), carol, { namespace: '/uploads' });
    expect(await request(socket, 'file_upload_start', { file_id: 'x', filename: 'x.csv', file_size: 4, mime_type: 'text/csv' })).toMatchObject({
      ok: false,
      error: { code: 'RATE_LIMIT_EXCEEDED' },
    });
    // Another user is not affected.
    await create(token({ sub: 'grace' }), 4);

    expect((await tusPatch(first, carol, 0, Buffer.from('done'))).status).toBe(204);
    const fourth = await create(carol, 4);
    expect((await tusDelete(second, carol)).status).toBe(204);
    expect((await tusHead(second, carol)).status).toBe(404);
    await create(carol, 4);
    expect((await tusCreate(uploads(), carol, 4, { filename: 'c.csv', filetype: 'text/csv' })).status).toBe(429);
    expect(fourth).not.toBe(second);
  });

  it('path traversal in file names and ids: names are sanitized, ids are not ids, nothing is written outside UPLOAD_DIR', async () => {
    const outside = readdirSync(root);
    const data = Buffer.from('a,b\n1,2\n');
    const mallory = token({ sub: 'mallory' });
    for (const filename of ['../../etc/passwd', '..\\..\\windows\\system.ini', '/abs/path/x.csv', '..', 'a\u0000b\r\n".csv']) {
      const url = await create(mallory, data.length, { filename, file_id: `../${filename}` });
      expect(url).toMatch(/\/api\/v1\/uploads\/[0-9a-f]{32}$/);
      expect((await tusPatch(url, mallory, 0, data)).status).toBe(204);
      const fetched = await download(url, mallory);
      expect(fetched.sha256).toBe(sha256(data));
      const disposition = fetched.headers.get('content-disposition')!;
      expect(disposition).toMatch(/^attachment; filename="[^"/\\\u0000-\u001f]+"$/);
      expect(disposition).not.toContain('..');
    }
    const headers = { 'tus-resumable': '1.0.0', authorization: `Bearer ${mallory}`, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' };
    for (const path of ['/api/v1/uploads/../../../tmp/evil', '/api/v1/uploads/..%2F..%2Fevil', '/api/v1/uploads/%2e%2e', `/api/v1/uploads/${'a'.repeat(31)}/`, '/api/v1/uploads/x/../../evil']) {
      expect(await rawRequest('PATCH', path, headers, Buffer.from('evil'))).toBe(404);
      expect(await rawRequest('GET', path, { authorization: `Bearer ${mallory}` })).toBe(404);
    }
    // The folder holds only the gateway's files: an id (32 hex digits) and its record.
    expect(readdirSync(root)).toEqual(outside);
    for (const name of readdirSync(dir)) expect(name).toMatch(/^[0-9a-f]{32}(\.json)?$/);
    expect(existsSync(join(root, 'evil'))).toBe(false);
  });
});

describe('unfinished uploads', () => {
  it('expire after UPLOAD_EXPIRY_HOURS: refused (410, then 404) and removed from disk; finished ones stay', async () => {
    const expiring = join(root, 'expiring');
    mkdirSync(expiring);
    // 0.0004 h = 1.44 s; the sweep runs every second.
    const short = await startGateway({ UPLOAD_DIR: expiring, UPLOAD_EXPIRY_HOURS: '0.0004' });
    const base = urlOf(short, '/api/v1/uploads');
    const unfinished = await tusCreate(base, alice, 10, { filename: 'a.csv' });
    const finished = await tusCreate(base, alice, 4, { filename: 'b.csv' });
    const unfinishedUrl = urlOf(short, unfinished.headers.get('location')!);
    const finishedUrl = urlOf(short, finished.headers.get('location')!);
    expect((await tusPatch(unfinishedUrl, alice, 0, Buffer.from('01234'))).headers.get('upload-expires')).toBeTruthy();
    expect((await tusPatch(finishedUrl, alice, 0, Buffer.from('done'))).status).toBe(204);
    const id = unfinishedUrl.split('/').pop()!;
    const deadline = Date.now() + 10_000;
    while (existsSync(join(expiring, id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(join(expiring, id))).toBe(false);
    expect(existsSync(join(expiring, `${id}.json`))).toBe(false);
    expect([404, 410]).toContain((await tusHead(unfinishedUrl, alice)).status);
    expect(await download(finishedUrl, alice)).toMatchObject({ status: 200, sha256: sha256(Buffer.from('done')) });
  });
});

describe("the seed's relay flow, for files stored elsewhere", () => {
  it('relays checked progress and completion to the rooms the uploader is in, and refuses what does not add up', async () => {
    const uploader = await connectV4(urlOf(gw), token({ sub: 'dave' }), { namespace: '/uploads' });
    const watcher = await connectV4(urlOf(gw), token({ sub: 'erin' }), { namespace: '/workspace' });
    expect(await request(uploader, 'file_upload_progress', { file_id: 'ext-1', bytes_uploaded: 1, total_bytes: 10 })).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
    for (const s of [uploader, watcher]) expect(await request(s, 'join_room', { room_id: 'sheet-1' })).toMatchObject({ ok: true });
    const seen = collect(watcher, 'file_upload_progress');
    const mine = collect(uploader, 'file_upload_progress');

    expect(await request(uploader, 'file_upload_progress', { file_id: 'ext-1', bytes_uploaded: 512000, total_bytes: 1024000, percentage: 12 })).toEqual({ ok: true });
    expect(await request(uploader, 'file_upload_progress', { file_id: 'ext-1', bytes_uploaded: 100, total_bytes: 1024000 })).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE', issues: [{ path: 'bytes_uploaded' }] } });
    expect(await request(uploader, 'file_upload_progress', { file_id: 'ext-1', bytes_uploaded: 600000, total_bytes: 2048000 })).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE', issues: [{ path: 'total_bytes' }] } });
    expect(await request(uploader, 'file_upload_progress', { file_id: 'ext-1', bytes_uploaded: 2000000, total_bytes: 1024000 })).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE', issues: [{ path: 'bytes_uploaded' }] } });
    expect(await request(uploader, 'file_upload_complete', { file_id: 'ext-1', filename: '../x.csv', url: 'javascript:alert(1)' })).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE', issues: [{ path: 'url' }] } });
    const complete = waitFor(watcher, 'file_upload_complete');
    expect(await request(uploader, 'file_upload_complete', { file_id: 'ext-1', filename: '../../x.csv', url: 'https://storage.example.com/file_123.csv', file_size: 1024000 })).toEqual({ ok: true });
    expect(await complete).toEqual({ file_id: 'ext-1', filename: 'x.csv', url: 'https://storage.example.com/file_123.csv', user_id: 'dave', file_size: 1024000 });
    expect(await request(uploader, 'file_upload_progress', { file_id: 'ext-1', bytes_uploaded: 1024000, total_bytes: 1024000 })).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    // The gateway computed the percentage; the sender did not hear its own echo.
    expect(seen).toEqual([{ file_id: 'ext-1', bytes_uploaded: 512000, total_bytes: 1024000, percentage: 50, user_id: 'dave' }]);
    expect(mine).toEqual([]);

    // A file the gateway itself receives cannot be reported by the client.
    const ticket = await request(uploader, 'file_upload_start', { file_id: 'own-1', filename: 'a.csv', file_size: 10, mime_type: 'text/csv' });
    expect(ticket).toMatchObject({ ok: true });
    expect(await request(uploader, 'file_upload_progress', { file_id: 'own-1', bytes_uploaded: 10, total_bytes: 10 })).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE', issues: [{ path: 'file_id' }] } });
  });
});
