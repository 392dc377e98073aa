import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gateway } from '../server/gateway';
import { closeClients, connectV4, request, waitFor } from './support/clients';
import { startGateway, stopGateways, urlOf } from './support/gateway';
import { token } from './support/tokens';

const alice = token({ sub: 'alice' });
const FORWARDED = { 'x-forwarded-host': 'uploads.example.com', 'x-forwarded-proto': 'https' };
const ID = '[0-9a-f]{32}';
let root: string;
const gateways: Record<string, Gateway> = {};

// TRUST_PROXY unset, a list that names this test's peer (loopback), and a list that does not.
const settings = { unset: undefined, loopback: 'loopback', elsewhere: '10.1.2.3' } as const;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'rg-upload-forwarded-'));
  for (const [name, trust] of Object.entries(settings)) {
    gateways[name] = await startGateway({ UPLOAD_DIR: join(root, name), TRUST_PROXY: trust });
  }
});
afterEach(closeClients);
afterAll(async () => {
  await stopGateways();
  rmSync(root, { recursive: true, force: true });
});

/**
 * Both URLs a client is handed, each asked with the forwarded headers: the ticket's upload URL
 * (file_upload_start, on a socket) and the download URL of file_upload_complete (from the PATCH).
 */
async function urlsHandedOut(gw: Gateway): Promise<string[]> {
  const socket = await connectV4(urlOf(gw), alice, { namespace: '/uploads', extraHeaders: FORWARDED });
  const ticket = await request(socket, 'file_upload_start', { file_id: 'f-1', filename: 'a.bin', file_size: 10, mime_type: 'application/octet-stream' });
  expect(ticket).toMatchObject({ ok: true });
  const complete = waitFor<{ url: string }>(socket, 'file_upload_complete');
  const patched = await fetch(urlOf(gw, ticket.upload_path), {
    method: 'PATCH',
    headers: { ...FORWARDED, authorization: `Bearer ${alice}`, 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
    body: Buffer.alloc(10, 1),
  });
  expect(patched.status).toBe(204);
  return [ticket.upload_url, (await complete).url];
}

describe('upload URLs', () => {
  it('use X-Forwarded-Host and -Proto when the request comes straight from a proxy TRUST_PROXY trusts', async () => {
    const [upload, download] = await urlsHandedOut(gateways.loopback);
    expect(upload).toMatch(new RegExp(`^https://uploads\\.example\\.com/api/v1/uploads/${ID}$`));
    expect(download).toMatch(new RegExp(`^https://uploads\\.example\\.com/`));
  });

  it('ignore them without TRUST_PROXY, and from a peer the trusted list does not name: the host the client reached', async () => {
    for (const gw of [gateways.unset, gateways.elsewhere]) {
      const [upload, download] = await urlsHandedOut(gw);
      expect(upload).toMatch(new RegExp(`^${urlOf(gw, '/api/v1/uploads/')}${ID}$`));
      expect(download.startsWith(urlOf(gw, '/'))).toBe(true);
    }
  });
});
