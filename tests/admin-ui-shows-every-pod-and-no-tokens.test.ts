import type { Browser } from 'playwright-core';
import { io as ioClient, type Socket } from 'socket.io-client';
import type { Gateway } from '../server/gateway';
import { closeClients, connectV4, request, waitFor, waitForArgs } from './support/clients';
import { startGateway, stopGateways, urlOf } from './support/gateway';
import { useRedis } from './support/lifecycle';
import { launchChromium } from './support/browser';
import { adminToken, token } from './support/tokens';

const API_KEY = 'admin-ui-test-key-0123456789abcdef';
const admins: Socket[] = [];
let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
  await stopGateways();
});
const redis = useRedis();
let podA: Gateway;
let podB: Gateway;
beforeAll(async () => {
  podA = await startGateway({ REDIS_URL: redis.url, ADMIN_API_KEY: API_KEY });
  podB = await startGateway({ REDIS_URL: redis.url, ADMIN_API_KEY: API_KEY });
});
afterEach(() => {
  closeClients();
  for (const s of admins.splice(0)) s.close();
});

/** Connects to the admin UI's namespace as the page does (user name and password). */
function adminClient(gw: Gateway, password: string): Socket {
  const socket = ioClient(`${urlOf(gw)}/admin`, { auth: { username: 'admin', password }, transports: ['websocket'], reconnection: false, forceNew: true });
  admins.push(socket);
  return socket;
}

describe('the admin UI', () => {
  it('in a real browser, logs in with ADMIN_API_KEY and lists the sockets of both pods, loading nothing from outside the gateway', async () => {
    const aliceToken = token({ sub: 'alice' });
    const bobToken = token({ sub: 'bob' });
    const alice = await connectV4(urlOf(podA), aliceToken, { query: { token: aliceToken } });
    const bob = await connectV4(urlOf(podB), bobToken);

    browser = await launchChromium();
    const page = await browser.newPage();
    const outside: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(urlOf(podA))) outside.push(r.url());
    });
    await page.goto(urlOf(podA, '/admin/'));
    await page.getByLabel('Server URL').fill(urlOf(podA));
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(API_KEY);
    await page.getByRole('button', { name: /connect/i }).click();
    await page.getByText(/^connected$/i).first().waitFor({ timeout: 10_000 });
    await page.getByRole('link', { name: 'Sockets' }).click();
    await page.getByText(alice.id!).waitFor({ timeout: 10_000 });
    await page.getByText(bob.id!).waitFor({ timeout: 10_000 });

    const html = await page.content();
    for (const secret of [aliceToken, bobToken, API_KEY]) expect(html).not.toContain(secret);
    expect(outside).toEqual([]);
  });

  it('sends socket descriptions without tokens: no Authorization header, no token in the query or the handshake URL, no raw token in data', async () => {
    const secretToken = token({ sub: 'carol' });
    const carol = await connectV4(urlOf(podB), secretToken, { query: { token: secretToken, room: 'x' }, extraHeaders: { authorization: `Bearer ${secretToken}` } });
    const admin = adminClient(podA, API_KEY);
    const all = await waitFor<any[]>(admin as never, 'all_sockets');
    const described = all.find((s) => s.id === carol.id);
    expect(described).toMatchObject({ nsp: '/', data: { user_id: 'carol', username: 'carol' }, handshake: { query: { room: 'x' } } });
    expect(described.data.pod).toBe(podB.config.podId);
    expect(JSON.stringify(all)).not.toContain(secretToken);
    expect(described.handshake.headers.authorization).toBeUndefined();
    expect(described.handshake.url).not.toMatch(/token=/);
  });

  it("adds no listener to every packet of every connection (the package's own per-packet byte counting is replaced)", async () => {
    const frank = await connectV4(urlOf(podA), token({ sub: 'frank' }));
    const raw = (podA.io.engine as unknown as { clients: Record<string, { listenerCount(e: string): number }> }).clients[frank.io.engine.id];
    expect(raw).toBeDefined();
    expect(raw.listenerCount('packetCreate')).toBe(0);
    expect(raw.listenerCount('packet')).toBeLessThanOrEqual(1);
  });

  it('refuses a wrong key and a non-admin token, and accepts an admin JWT', async () => {
    const wrong = await waitFor<Error & { data?: { code: string } }>(adminClient(podA, 'not-the-key') as never, 'connect_error');
    expect(wrong.data?.code).toBe('AUTHENTICATION_FAILED');
    const user = await waitFor<Error & { data?: { code: string } }>(adminClient(podA, token({ sub: 'eve' })) as never, 'connect_error');
    expect(user.data?.code).toBe('PERMISSION_DENIED');
    const config = await waitFor<{ supportedFeatures: string[] }>(adminClient(podA, adminToken()) as never, 'config', (c) => c.supportedFeatures.includes('ALL_EVENTS'));
    // Outside production it may act on sockets.
    expect(config.supportedFeatures).toEqual(expect.arrayContaining(['EMIT', 'DISCONNECT', 'AGGREGATED_EVENTS', 'ALL_EVENTS']));
  });

  it("watching live events does not break the gateway's disconnect cleanup: the room still sees the user leave", async () => {
    const admin = adminClient(podA, API_KEY);
    await waitFor(admin as never, 'all_sockets');
    const dave = await connectV4(urlOf(podA), token({ sub: 'dave' }), { namespace: '/workspace' });
    const erin = await connectV4(urlOf(podB), token({ sub: 'erin' }), { namespace: '/workspace' });
    const joined = waitForArgs(admin, 'room_joined', (nsp, room) => nsp === '/workspace' && room === 'room:r1');
    expect(await request(dave, 'join_room', { room_id: 'r1' })).toMatchObject({ ok: true });
    await joined;
    expect(await request(erin, 'join_room', { room_id: 'r1' })).toMatchObject({ ok: true });
    // Cleanup ran when the room's state, pushed to the other pod, no longer lists dave.
    const left = waitFor<any>(erin, 'room_state', (e) => e.room_id === 'r1' && !e.users.some((u: { user_id: string }) => u.user_id === 'dave'));
    const daveId = dave.id;
    const gone = waitForArgs(admin, 'socket_disconnected', (nsp, id) => nsp === '/workspace' && id === daveId);
    dave.disconnect();
    expect((await left).users.map((u: { user_id: string }) => u.user_id)).toEqual(['erin']);
    await gone;
  });
});

describe('the admin UI in production', () => {
  it('is read-only unless ADMIN_UI_WRITE=true', async () => {
    const readonly = await startGateway({ NODE_ENV: 'production', ADMIN_API_KEY: API_KEY });
    const writable = await startGateway({ NODE_ENV: 'production', ADMIN_API_KEY: API_KEY, ADMIN_UI_WRITE: 'true' });
    const ro = await waitFor<{ supportedFeatures: string[] }>(adminClient(readonly, API_KEY) as never, 'config', (c) => c.supportedFeatures.includes('ALL_EVENTS'));
    expect(ro.supportedFeatures.sort()).toEqual(['AGGREGATED_EVENTS', 'ALL_EVENTS']);
    const rw = await waitFor<{ supportedFeatures: string[] }>(adminClient(writable, API_KEY) as never, 'config', (c) => c.supportedFeatures.includes('ALL_EVENTS'));
    expect(rw.supportedFeatures).toEqual(expect.arrayContaining(['EMIT', 'JOIN', 'LEAVE', 'DISCONNECT']));
  });
});
