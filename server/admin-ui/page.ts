import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import express, { Router } from 'express';

/** Where the admin UI's built page lives (the package ships `ui/dist`), and the icon font's files. */
const uiDir = () => join(dirname(require.resolve('@socket.io/admin-ui/package.json')), 'ui', 'dist');
const mdiDir = () => dirname(require.resolve('@mdi/font/package.json'));

/**
 * The page's index.html with its two CDN links replaced: the Material Design icon font is served
 * from the `@mdi/font` package here, and the Roboto web font is dropped (the page falls back to the
 * browser's sans-serif). Nothing is fetched from outside the gateway.
 */
export function localIndexHtml(html: string): string {
  return html
    .replace(/<link[^>]+fonts\.googleapis\.com[^>]*>/g, '')
    .replace(/https:\/\/cdn\.jsdelivr\.net\/npm\/@mdi\/font@[^/]+\/css\/materialdesignicons\.min\.css/g, 'mdi/css/materialdesignicons.min.css');
}

/** `GET /admin/`: the admin UI page and its assets, served by the gateway itself (read at start-up). */
export function adminUiPage(): Router {
  // Strict: `/admin` (redirected) and `/admin/` (the page) are different routes.
  const router = Router({ strict: true });
  const index = localIndexHtml(readFileSync(join(uiDir(), 'index.html'), 'utf8'));
  router.get('/admin', (_req, res) => res.redirect(301, '/admin/'));
  router.get('/admin/', (_req, res) => {
    res.type('html').set('cache-control', 'no-store').send(index);
  });
  router.use('/admin/mdi/css', express.static(join(mdiDir(), 'css'), { index: false, fallthrough: false }));
  router.use('/admin/mdi/fonts', express.static(join(mdiDir(), 'fonts'), { index: false, fallthrough: false }));
  router.use('/admin', express.static(uiDir(), { index: false, fallthrough: false }));
  return router;
}
