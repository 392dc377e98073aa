// Bundles the demo (npm run build): demo/src → dist/demo/app.js and legacy.js, with the page, the
// stylesheet and socket.io-client v2's browser build copied beside them. No CDN: everything the page
// loads comes from the gateway.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist', 'demo');
const require = createRequire(import.meta.url);
mkdirSync(join(out, 'vendor'), { recursive: true });
await build({
  entryPoints: { app: join(here, 'src', 'main.ts'), legacy: join(here, 'src', 'legacy.ts') },
  outdir: out,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});
for (const file of ['index.html', 'legacy.html', 'style.css']) copyFileSync(join(here, file), join(out, file));
copyFileSync(join(dirname(require.resolve('socket.io-client-v2/package.json')), 'dist', 'socket.io.js'), join(out, 'vendor', 'socket.io-v2.js'));
