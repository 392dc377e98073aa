import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { Gateway } from '../server/gateway';
import { launchChromium } from './support/browser';
import { FakeOpenAI } from './support/fake-openai';
import { startGateway, stopGateways, urlOf } from './support/gateway';
import { useRedis } from './support/lifecycle';
import { token } from './support/tokens';

/** Screenshots of the run, kept for whoever looks at a failure (or at the demo). */
const ARTIFACTS = join(__dirname, '..', 'test-artifacts');

let browser: Browser | undefined;
let upstream: FakeOpenAI;
afterAll(async () => {
  await browser?.close();
  await stopGateways();
  await upstream?.close();
});
const redis = useRedis();
let podA: Gateway;
let podB: Gateway;
beforeAll(async () => {
  upstream = await FakeOpenAI.start();
  const env = { REDIS_URL: redis.url, AI_UPSTREAM_URL: upstream.url, AI_PROGRESS_INTERVAL_MS: '0' };
  podA = await startGateway(env);
  podB = await startGateway(env);
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
});

/** A fresh browser context (its own storage: another user) on the demo page of `gw`. */
async function open(gw: Gateway, path: string, user: string, name: string): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`page error (${user}):`, err.message));
  const jwt = token({ sub: user, name });
  await page.goto(urlOf(gw, `${path}?room=r1&token=${encodeURIComponent(jwt)}`));
  return page;
}

/** Types `value` into a cell and presses Enter; resolves when the edit was sent. */
async function editCell(page: Page, cell: string, value: string): Promise<void> {
  await page.locator(`td[data-cell="${cell}"]`).click();
  const input = page.locator(`td[data-cell="${cell}"] input`);
  await input.fill(value);
  await input.press('Enter');
}

describe('the demo page', () => {
  it('two browsers on two pods see each other (presence, cursor, cell edit within a second, conflict, typing, chat), a v2 page sees the edits, AI streams and an upload shows progress', async () => {
    const alice = await open(podA, '/demo/', 'alice', 'Alice');
    const bob = await open(podB, '/demo/', 'bob', 'Bob');
    const legacy = await open(podA, '/demo/legacy.html', 'carol', 'Carol');
    await alice.locator('body[data-ready="true"]').waitFor();
    await bob.locator('body[data-ready="true"]').waitFor();
    await legacy.locator('#status[data-state="connected"]').waitFor();

    // Presence, across pods.
    await alice.locator('#presence li[data-user="bob"]').waitFor({ timeout: 5000 });
    await bob.locator('#presence li[data-user="alice"]').waitFor({ timeout: 5000 });

    // Alice's cursor on Bob's screen, with her name, within a second.
    const box = (await alice.locator('td[data-cell="C4"]').boundingBox())!;
    await alice.mouse.move(box.x + 10, box.y + 10);
    await alice.mouse.move(box.x + 20, box.y + 12);
    await bob.locator('.cursor[data-user="alice"][data-cell="C4"]').waitFor({ timeout: 1000 });
    expect(await bob.locator('.cursor[data-user="alice"] span').textContent()).toBe('Alice');

    // Typing indicator while Bob edits.
    await bob.locator('td[data-cell="A1"]').click();
    await alice.getByText('Bob is typing in A1').waitFor({ timeout: 5000 });
    await bob.locator('td[data-cell="A1"] input').press('Escape');

    // A cell edit on pod A reaches pod B (and the v2 page) within a second, with its version: from
    // the Enter key that sends it, not counting the browser's time to take the click and the typing.
    await editCell(alice, 'B2', '42');
    const sent = Date.now();
    await bob.locator('td[data-cell="B2"][data-value="42"][data-version="1"]').waitFor({ timeout: 1000 });
    expect(Date.now() - sent).toBeLessThan(1000);
    await legacy.locator('li[data-cell="B2"][data-value="42"]').waitFor({ timeout: 1000 });

    // A visible conflict: both start editing D5 at version 0; Alice saves first, Bob's save is refused.
    await bob.locator('td[data-cell="D5"]').click();
    await editCell(alice, 'D5', 'first');
    await bob.locator('td[data-cell="D5"] input').fill('second');
    await bob.locator('td[data-cell="D5"] input').press('Enter');
    await bob.locator('#conflict[data-cell="D5"]').waitFor({ state: 'visible', timeout: 2000 });
    expect(await bob.locator('#conflict').textContent()).toContain('Alice changed it first');
    await bob.locator('td[data-cell="D5"][data-value="first"]').waitFor({ timeout: 5000 });

    // Chat across pods.
    await alice.locator('#chat-input').fill('hello from pod A');
    await alice.locator('#chat-input').press('Enter');
    await bob.getByText('Alice: hello from pod A').waitFor({ timeout: 5000 });

    // AI: the fake upstream streams, the panel fills.
    upstream.script(FakeOpenAI.stream([{ content: 'The ' }, { content: 'sum ' }, { content: 'is 42.' }], { intervalMs: 5 }));
    await alice.locator('#ai-prompt').fill('What is the sum?');
    await alice.locator('#ai-prompt').press('Enter');
    await alice.getByText('The sum is 42.').waitFor({ timeout: 3000 });

    // Upload through the tus endpoint: the bar follows the gateway's progress events to 100%.
    await alice.locator('#upload-input').setInputFiles({ name: 'numbers.csv', mimeType: 'text/csv', buffer: Buffer.from('a,b\n1,2\n'.repeat(20_000)) });
    await alice.locator('#upload-link[data-file-id]').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await alice.locator('#upload-bar').evaluate((el) => (el as unknown as { value: number }).value)).toBe(100);
    expect(await alice.locator('#upload-link').textContent()).toBe('numbers.csv');

    await alice.screenshot({ path: join(ARTIFACTS, 'demo-alice-pod-a.png'), fullPage: true });
    await bob.screenshot({ path: join(ARTIFACTS, 'demo-bob-pod-b.png'), fullPage: true });
  });

  it('hands out guest tokens only on the generated development secret, and is off in production unless DEMO_ENABLED', async () => {
    const configured = await startGateway();
    expect((await fetch(urlOf(configured, '/demo/token'))).status).toBe(404);
    const dev = await startGateway({ JWT_SECRET: undefined });
    const guest = (await (await fetch(urlOf(dev, '/demo/token'))).json()) as { token: string };
    const claims = JSON.parse(Buffer.from(guest.token.split('.')[1], 'base64url').toString());
    expect(claims.sub).toMatch(/^guest-[0-9a-f]{12}$/);
    expect(claims.exp - claims.iat).toBe(3600); // an hour
    const production = await startGateway({ NODE_ENV: 'production' });
    expect((await fetch(urlOf(production, '/demo/'))).status).toBe(404);
    const enabled = await startGateway({ NODE_ENV: 'production', DEMO_ENABLED: 'true' });
    const page = await fetch(urlOf(enabled, '/demo/'));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script src="app.js"></script>');
  });
});
