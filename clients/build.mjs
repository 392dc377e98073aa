// Builds @realtime-gateway/client into clients/dist:
//   1. tsc -p clients/tsconfig.json: ES modules and .d.ts of the package and of the shared/
//      catalogue it imports (dist/clients/src/..., dist/shared/...);
//   2. relative import specifiers given their file (`./client` → `./client.js`), as Node's ESM
//      loader and `moduleResolution: node16/nodenext` require (the sources, shared with the
//      CommonJS build of the repository, import without extensions);
//   3. esbuild browser bundles, dependencies included: dist/browser/{socketio-client,
//      native-client,gateway-client}.js (IIFE, global `RealtimeGateway`) and gateway-client.mjs.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const require = createRequire(import.meta.url);

rmSync(dist, { recursive: true, force: true });

const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

/** Every file under `dir` whose name ends with one of `suffixes`. */
function filesUnder(dir, suffixes) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return filesUnder(path, suffixes);
    return suffixes.some((s) => name.endsWith(s)) ? [path] : [];
  });
}

/** `./x` → `./x.js` or `./x/index.js`, whichever the build wrote (checked on the .js file). */
function withExtension(file, specifier) {
  if (!specifier.startsWith('.') || /\.(m?js|json)$/.test(specifier)) return specifier;
  const base = join(dirname(file), specifier);
  if (existsSync(`${base}.js`)) return `${specifier}.js`;
  if (existsSync(join(base, 'index.js'))) return `${specifier}/index.js`;
  throw new Error(`${file}: cannot resolve ${specifier}`);
}

const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]*)\2/g;
for (const file of filesUnder(dist, ['.js', '.d.ts'])) {
  const source = readFileSync(file, 'utf8');
  const fixed = source.replace(SPECIFIER, (_, lead, quote, spec) => `${lead}${quote}${withExtension(file, spec)}${quote}`);
  if (fixed !== source) writeFileSync(file, fixed);
}

const esbuild = await import('esbuild');
const entries = ['socketio-client', 'native-client', 'gateway-client'];
const common = {
  bundle: true,
  platform: 'browser',
  target: ['es2020'],
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
};
await Promise.all([
  ...entries.map((name) =>
    esbuild.build({
      ...common,
      entryPoints: [join(here, 'src', 'browser', `${name}.ts`)],
      outfile: join(dist, 'browser', `${name}.js`),
      format: 'iife',
      globalName: 'RealtimeGateway',
    }),
  ),
  esbuild.build({
    ...common,
    entryPoints: [join(here, 'src', 'browser', 'gateway-client.ts')],
    outfile: join(dist, 'browser', 'gateway-client.mjs'),
    format: 'esm',
  }),
]);

const sizes = readdirSync(join(dist, 'browser'))
  .filter((n) => !n.endsWith('.map'))
  .map((n) => `${n} ${(statSync(join(dist, 'browser', n)).size / 1024).toFixed(0)} KiB`);
console.log(`clients/dist: ESM + .d.ts; browser bundles: ${sizes.join(', ')}`);
