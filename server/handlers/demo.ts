import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router } from 'express';
import { createSigner } from 'fast-jwt';
import type { Feature } from './context';

/**
 * The built demo (`npm run build` bundles demo/ into dist/demo): next to the compiled server, or,
 * when the server runs from its TypeScript sources (tests), in the checkout's dist/.
 */
function builtDemo(): string | undefined {
  return [join(__dirname, '..', '..', 'demo'), join(__dirname, '..', '..', 'dist', 'demo')].find((dir) => existsSync(join(dir, 'app.js')));
}

const GUEST_NAMES = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Tim'];

/**
 * The live demo at /demo: a small spreadsheet on the typed clients (presence, cursors, cells with
 * versions and conflicts, typing, chat, AI, uploads). Served outside production, and in production
 * only with DEMO_ENABLED=true. The page takes a token from `?token=`; without one, and only when the
 * gateway runs on its generated development secret (no JWT setting), it asks `/demo/token` for a
 * guest token of its own, so that two browser windows are two users. A configured secret never
 * signs anything here.
 */
export const registerDemo: Feature = (ctx) => {
  if (ctx.config.env === 'production' && !ctx.config.demo.enabled) return;
  const dir = builtDemo();
  const log = ctx.logger.child({ module: 'demo' });
  if (!dir) {
    log.warn('demo not built (npm run build bundles it): /demo is not served');
    return;
  }
  const router = Router({ strict: true });
  router.get('/demo', (_req, res) => res.redirect(301, '/demo/'));
  const devSecret = ctx.config.jwt.generated ? ctx.config.jwt.secret : undefined;
  // An hour (fast-jwt counts expiresIn in milliseconds).
  const signGuest = devSecret ? createSigner({ key: devSecret, algorithm: 'HS256', expiresIn: 3600_000 }) : undefined;
  router.get('/demo/token', (_req, res) => {
    if (!signGuest) return res.status(404).json({ code: 'PERMISSION_DENIED', error: 'Guest tokens exist only with the generated development secret: pass ?token=' });
    const name = `${GUEST_NAMES[randomBytes(1)[0] % GUEST_NAMES.length]} ${randomBytes(2).toString('hex')}`;
    const sub = `guest-${randomBytes(6).toString('hex')}`;
    res.set('cache-control', 'no-store').json({ token: signGuest({ sub, name }) });
  });
  router.use('/demo/vendor', express.static(join(dir, 'vendor'), { index: false, fallthrough: false }));
  router.use('/demo', express.static(dir, { index: 'index.html', fallthrough: false }));
  ctx.http.use(router);
};
