#!/usr/bin/env node
'use strict';
/**
 * Builds the image with podman and smoke-tests it as the Helm chart runs it: read-only root
 * filesystem with tmpfs at /tmp and /app/uploads, the image's own non-root user, every capability
 * dropped, no privilege escalation. Then, from this machine:
 *
 *   - GET /readyz answers 200 (the gateway started in production mode with the JWT_SECRET given);
 *   - the pages served from production dependencies' files answer (admin UI, its icon font, the
 *     API docs' swagger-ui assets);
 *   - a Socket.IO v4 client (socket.io-client from this repository's node_modules) connects with a
 *     JWT signed with that secret and joins a room; a token signed with another secret is refused;
 *   - a tus upload is written to UPLOAD_DIR (the /app/uploads tmpfs) and read back;
 *   - inside the container: the process runs as uid 1000, /tmp and /app/uploads are writable and
 *     the rest (/app, /home/node, /var/tmp) is not; /app holds dist/server, dist/shared, the
 *     production node_modules and package.json, and no dev dependency;
 *   - `podman stop` (SIGTERM) disconnects the client and the container exits with code 0.
 *
 *   node scripts/image-smoke.js               base image if missing, build, smoke
 *   node scripts/image-smoke.js --no-build    smoke the existing $IMAGE only
 *
 * Environment (defaults in brackets):
 *   IMAGE [localhost/realtime-gateway:smoke]  the tag built and tested
 *   BASE_IMAGE [localhost/realtime-gateway-base:bookworm-node20]  the Dockerfile's BASE_IMAGE; the
 *     default one is built by scripts/image-base.sh when missing (debootstrap: needs root); any
 *     other (e.g. docker.io/library/node:20-bookworm-slim) is pulled by podman
 *   IMAGE_BASE_TIMEOUT_S [300], IMAGE_BUILD_TIMEOUT_S [900], IMAGE_SMOKE_TIMEOUT_S [180]
 *   IMAGE_BASE_REQUIRED [unset]  when the base image cannot be built the smoke is skipped (exit 0,
 *     with a message) unless this is 1; every later failure fails the run (exit 1)
 *   IMAGE_ULIMIT_NOFILE [this shell's hard limit, at most 65536], IMAGE_ULIMIT_NPROC [4096]: podman's
 *     own defaults ask for more than a process without CAP_SYS_RESOURCE may set (docs/image.md)
 *   NODE_EXTRA_CA_CERTS (or else npm's `cafile` setting): passed to the build as the secret npm_ca, for
 *     a registry reached through a TLS-intercepting proxy
 *
 * Exit codes: 0 passed (or skipped: see above), 1 failed, 2 podman missing.
 */
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const IMAGE = process.env.IMAGE || 'localhost/realtime-gateway:smoke';
const LOCAL_BASE = 'localhost/realtime-gateway-base:bookworm-node20';
const BASE_IMAGE = process.env.BASE_IMAGE || LOCAL_BASE;
const seconds = (name, dflt) => Number(process.env[name] || dflt);
const BASE_TIMEOUT_S = seconds('IMAGE_BASE_TIMEOUT_S', 300);
const BUILD_TIMEOUT_S = seconds('IMAGE_BUILD_TIMEOUT_S', 900);
const SMOKE_TIMEOUT_S = seconds('IMAGE_SMOKE_TIMEOUT_S', 180);
const NAME = `realtime-gateway-smoke-${process.pid}`;
const args = new Set(process.argv.slice(2));

const log = (msg) => process.stdout.write(`image-smoke: ${msg}\n`);
const checks = [];
function check(name, ok, detail = '') {
  checks.push({ name, ok });
  log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  if (!ok) throw new SmokeFailure(`${name}${detail ? `: ${detail}` : ''}`);
}
class SmokeFailure extends Error {}
class Skip extends Error {}

/** Runs a command to its end within timeoutS, output to `logFile` (or captured), never throwing. */
function run(cmd, argv, { timeoutS = 60, logFile, input } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const out = logFile ? fs.openSync(logFile, 'w') : 'pipe';
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: [input === undefined ? 'ignore' : 'pipe', out, out], detached: true });
    let stdout = '';
    let stderr = '';
    if (!logFile) {
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
    }
    if (input !== undefined) child.stdin.end(input);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGTERM'); // its process group: podman build's children too
      } catch {}
      setTimeout(() => {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
      }, 5000).unref();
    }, timeoutS * 1000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: String(err), timedOut, ms: Date.now() - started });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (typeof out === 'number') fs.closeSync(out);
      resolve({ code, stdout, stderr, timedOut, ms: Date.now() - started });
    });
  });
}

const tail = (file, lines = 40) => {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
};
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function hardLimit(flag) {
  const r = spawnSync('sh', ['-c', `ulimit -H${flag}`], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return Number.isFinite(n) && n > 0 ? n : undefined; // 'unlimited' -> undefined
}

async function buildBase(tmp) {
  if (BASE_IMAGE !== LOCAL_BASE) {
    log(`base image ${BASE_IMAGE}: podman pulls it if it is not here`);
    return;
  }
  const logFile = path.join(tmp, 'base.log');
  const r = await run('bash', [path.join(ROOT, 'scripts/image-base.sh'), '--if-missing'], { timeoutS: BASE_TIMEOUT_S, logFile });
  if (r.code !== 0) {
    process.stdout.write(`${tail(logFile)}\n`);
    const why = r.timedOut ? `did not finish within ${BASE_TIMEOUT_S} s (IMAGE_BASE_TIMEOUT_S)` : `failed (exit ${r.code})`;
    throw new Skip(`the local base image ${LOCAL_BASE} ${why}; build it with: sudo scripts/image-base.sh`);
  }
  log(`base image ${BASE_IMAGE} ready in ${secs(r.ms)} (${tail(logFile, 1)})`);
}

/** The CA certificates this machine's npm trusts beyond Node's own (a TLS-intercepting proxy), if any. */
function extraCaCertificates() {
  const fromEnv = process.env.NODE_EXTRA_CA_CERTS;
  if (fromEnv && fs.existsSync(fromEnv)) return fromEnv;
  const r = spawnSync('npm', ['config', 'get', 'cafile'], { encoding: 'utf8', cwd: ROOT });
  const cafile = (r.stdout || '').trim();
  return cafile && cafile !== 'null' && cafile !== 'undefined' && fs.existsSync(cafile) ? cafile : undefined;
}

async function buildImage(tmp) {
  const logFile = path.join(tmp, 'build.log');
  const argv = ['build', '--network=host', '--build-arg', `BASE_IMAGE=${BASE_IMAGE}`, '-t', IMAGE, '-f', 'Dockerfile'];
  const ca = extraCaCertificates();
  if (ca) argv.push('--secret', `id=npm_ca,src=${ca}`);
  argv.push('.');
  log(`podman ${argv.join(' ')}`);
  const r = await run('podman', argv, { timeoutS: BUILD_TIMEOUT_S, logFile });
  if (r.code !== 0) {
    process.stdout.write(`${tail(logFile)}\n`);
    check('the image builds', false, r.timedOut ? `not within ${BUILD_TIMEOUT_S} s (IMAGE_BUILD_TIMEOUT_S)` : `podman build exited ${r.code}`);
  }
  check('the image builds', true, secs(r.ms));
}

async function inspectImage() {
  const r = await run('podman', ['image', 'inspect', IMAGE]);
  check('the image exists', r.code === 0, r.stderr.trim());
  const [image] = JSON.parse(r.stdout);
  const config = image.Config || {};
  const user = String(config.User || '');
  const uid = user.split(':')[0];
  check('the image runs as a numeric non-root user', /^\d+$/.test(uid) && uid !== '0', `User=${user || '(none: root)'}`);
  check('CMD is the exec form of node dist/server/index.js', JSON.stringify(config.Cmd) === '["node","dist/server/index.js"]' && !config.Entrypoint?.length, JSON.stringify({ Entrypoint: config.Entrypoint, Cmd: config.Cmd }));
  const env = config.Env || [];
  check('NODE_ENV=production and UPLOAD_DIR=/app/uploads', env.includes('NODE_ENV=production') && env.includes('UPLOAD_DIR=/app/uploads'), env.join(' '));
  const volumes = Object.keys(config.Volumes || {}).sort();
  check('/tmp and /app/uploads are volumes', JSON.stringify(volumes) === '["/app/uploads","/tmp"]', volumes.join(' '));
  log(`image size ${(image.Size / 1e6).toFixed(0)} MB`);
}

/** What runs inside the container (podman exec): its user, what it may write, what /app holds. */
const INSIDE = String.raw`
const fs = require('fs');
const out = {};
out.uid = process.getuid(); out.gid = process.getgid();
out.pid1 = fs.readFileSync('/proc/1/status', 'utf8').match(/^Uid:\s+(\d+)/m)[1];
out.writable = {};
for (const dir of ['/tmp', '/app/uploads', '/app', '/app/dist/server', '/app/node_modules', '/home/node', '/var/tmp', '/']) {
  const f = dir.replace(/\/$/, '') + '/.smoke-write-probe';
  try { fs.writeFileSync(f, 'x'); fs.unlinkSync(f); out.writable[dir] = true; } catch (e) { out.writable[dir] = e.code; }
}
out.app = fs.readdirSync('/app').sort();
out.dist = fs.readdirSync('/app/dist').sort();
const pkg = JSON.parse(fs.readFileSync('/app/package.json', 'utf8'));
// argv: the lockfile's packages that only dev dependencies need ("dev": true), by install path.
out.devPresent = process.argv.slice(1).filter((p) => fs.existsSync('/app/' + p));
out.prodMissing = Object.keys(pkg.dependencies || {}).filter((n) => !fs.existsSync('/app/node_modules/' + n + '/package.json'));
const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(d + '/' + e.name) : [d + '/' + e.name]);
// The demo is a static page (HTML, CSS, bundles and their maps); everything else must be compiled JavaScript.
out.sources = walk('/app/dist').filter((f) => !f.endsWith('.js') && !f.startsWith('/app/dist/demo/')).slice(0, 5);
out.demo = walk('/app/dist/demo').map((f) => f.slice('/app/dist/demo/'.length)).sort();
out.uploads = fs.readdirSync('/app/uploads').length;
process.stdout.write(JSON.stringify(out));
`;

async function smoke() {
  const port = await freePort();
  const secret = crypto.randomBytes(32).toString('hex');
  const nofile = Number(process.env.IMAGE_ULIMIT_NOFILE) || Math.min(hardLimit('n') ?? 65536, 65536);
  const nproc = Number(process.env.IMAGE_ULIMIT_NPROC) || 4096;
  const runArgs = [
    'run', '--detach', '--name', NAME,
    // As the chart runs it: read-only root, writable /tmp and uploads only, no capabilities.
    '--read-only', '--read-only-tmpfs=false',
    '--tmpfs', '/tmp:rw,nosuid,nodev,size=64m,mode=1777',
    '--tmpfs', '/app/uploads:rw,nosuid,nodev,noexec,size=256m',
    '--cap-drop=ALL', '--security-opt=no-new-privileges',
    // The host's network, the gateway on a free loopback port: nothing leaves this machine.
    '--network=host', '--env', `PORT=${port}`, '--env', 'HOST=127.0.0.1',
    '--env', `JWT_SECRET=${secret}`, '--env', 'DRAIN_MS=1000', '--env', 'SHUTDOWN_TIMEOUT_MS=5000',
    '--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`,
    IMAGE,
  ];
  log(`podman ${runArgs.join(' ').replace(secret, '<secret>')}`);
  const started = await run('podman', runArgs, { timeoutS: 60 });
  check('the container starts (read-only root, tmpfs /tmp and /app/uploads, no capabilities)', started.code === 0, started.stderr.trim());

  const base = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  let ready = false;
  while (Date.now() - t0 < 60_000) {
    const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    if (res?.status === 200) {
      ready = true;
      break;
    }
    const state = await run('podman', ['inspect', '--format', '{{.State.Status}}', NAME]);
    if (state.stdout.trim() !== 'running') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  check('GET /readyz answers 200', ready, ready ? secs(Date.now() - t0) : 'not ready within 60 s, or the container stopped');

  // Files the server reads from production dependencies at run time.
  const get = async (p) => {
    const res = await fetch(base + p, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text() };
  };
  const page = await get('/admin/');
  check('GET /admin/ serves @socket.io/admin-ui ui/dist', page.status === 200 && page.body.includes('mdi/css/materialdesignicons.min.css'), String(page.status));
  const mdi = await get('/admin/mdi/css/materialdesignicons.min.css');
  check('the admin UI icon font comes from @mdi/font', mdi.status === 200 && mdi.body.includes('@font-face'), String(mdi.status));
  const swagger = await get('/api/v1/docs/swagger-ui-bundle.js');
  check('the API docs assets come from swagger-ui-dist', swagger.status === 200 && swagger.body.length > 100_000, `${swagger.status}, ${swagger.body.length} bytes`);

  // A Socket.IO v4 client with a token signed with the secret the container was given.
  const jwt = require('jsonwebtoken');
  const { io } = require('socket.io-client');
  const token = jwt.sign({ sub: 'smoke-user', name: 'Smoke', email: 'smoke@example.com' }, secret, { algorithm: 'HS256', expiresIn: 600 });
  const socket = io(`${base}/workspace`, { auth: { token }, transports: ['websocket'], reconnection: false, timeout: 5000 });
  const events = [];
  socket.onAny((event) => events.push(event));
  const connected = await new Promise((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('connect_error', (err) => resolve(`connect_error: ${err.message}`));
  });
  check('a Socket.IO v4 client connects with a JWT signed with JWT_SECRET', connected === 'connected', connected);
  const joined = await socket.timeout(5000).emitWithAck('join_room', { room_id: 'smoke_room' }).catch((err) => ({ error: String(err) }));
  check('join_room is acknowledged', joined?.ok === true && joined.room_id === 'smoke_room', JSON.stringify(joined));
  const disconnected = new Promise((resolve) => socket.once('disconnect', (reason) => resolve({ reason, at: Date.now() })));

  const forged = jwt.sign({ sub: 'smoke-user' }, crypto.randomBytes(32).toString('hex'), { algorithm: 'HS256', expiresIn: 600 });
  const intruder = io(`${base}/workspace`, { auth: { token: forged }, transports: ['websocket'], reconnection: false, timeout: 5000 });
  const refused = await new Promise((resolve) => {
    intruder.once('connect', () => resolve('connected'));
    intruder.once('connect_error', (err) => resolve(`connect_error: ${err.message}`));
  });
  intruder.close();
  check('a token signed with another secret is refused', refused.startsWith('connect_error'), refused);

  // A tus upload: the bytes go to UPLOAD_DIR, the /app/uploads tmpfs.
  const auth = { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0' };
  const content = 'a,b\n1,2\n3,4\n';
  const created = await fetch(`${base}/api/v1/uploads`, {
    method: 'POST',
    headers: { ...auth, 'upload-length': String(content.length), 'upload-metadata': `filename ${Buffer.from('smoke.csv').toString('base64')},filetype ${Buffer.from('text/csv').toString('base64')}` },
    signal: AbortSignal.timeout(5000),
  });
  const location = created.headers.get('location') || '';
  check('a tus upload is created', created.status === 201 && location !== '', `${created.status} ${location}`);
  const uploadUrl = new URL(location, base).toString();
  const patched = await fetch(uploadUrl, {
    method: 'PATCH',
    headers: { ...auth, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
    body: content,
    signal: AbortSignal.timeout(5000),
  });
  check('its bytes are written to /app/uploads', patched.status === 204 && patched.headers.get('upload-offset') === String(content.length), `${patched.status} offset ${patched.headers.get('upload-offset')}`);
  const download = await fetch(uploadUrl, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
  const downloaded = await download.text();
  check('and read back', download.status === 200 && downloaded === content, `${download.status}, ${downloaded.length} bytes`);

  // Inside: user, writable paths, what /app holds.
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  const devOnly = Object.entries(lock.packages).filter(([p, meta]) => p && meta.dev).map(([p]) => p);
  const inside = await run('podman', ['exec', NAME, 'node', '-e', INSIDE, ...devOnly], { timeoutS: 30 });
  check('podman exec node runs in the container', inside.code === 0, inside.stderr.trim());
  const facts = JSON.parse(inside.stdout);
  check('the gateway (PID 1) and exec run as uid 1000', facts.pid1 === '1000' && facts.uid === 1000 && facts.gid === 1000, `pid1 uid ${facts.pid1}, exec ${facts.uid}:${facts.gid}`);
  const w = facts.writable;
  const onlyTmp = w['/tmp'] === true && w['/app/uploads'] === true && Object.entries(w).every(([dir, v]) => dir === '/tmp' || dir === '/app/uploads' || v === 'EROFS');
  check('only /tmp and /app/uploads are writable (the rest: EROFS)', onlyTmp, JSON.stringify(w));
  check('/app holds dist, node_modules, package.json and uploads only', JSON.stringify(facts.app) === '["dist","node_modules","package.json","uploads"]', facts.app.join(' '));
  check('/app/dist holds server and shared (compiled JavaScript only) and the bundled demo', JSON.stringify(facts.dist) === '["demo","server","shared"]' && facts.sources.length === 0, `${facts.dist.join(' ')}${facts.sources.length ? `; not .js: ${facts.sources.join(' ')}` : ''}`);
  check('the demo bundle is in the image (/demo with DEMO_ENABLED=true)', ['app.js', 'index.html', 'legacy.html', 'legacy.js', 'style.css', 'vendor/socket.io-v2.js'].every((f) => facts.demo.includes(f)), facts.demo.join(' '));
  check(`none of the lockfile's ${devOnly.length} dev-only packages in node_modules`, facts.devPresent.length === 0, facts.devPresent.join(' '));
  check('every production dependency in node_modules', facts.prodMissing.length === 0, facts.prodMissing.join(' '));
  check('the upload is in /app/uploads', facts.uploads > 0, `${facts.uploads} files`);

  // SIGTERM: podman stop waits up to 30 s (DRAIN_MS + SHUTDOWN_TIMEOUT_MS is 6 s) before SIGKILL.
  const stopAt = Date.now();
  const stopped = await run('podman', ['stop', '--time', '30', NAME], { timeoutS: 60 });
  check('podman stop (SIGTERM) returns', stopped.code === 0, `${secs(stopped.ms)} ${stopped.stderr.trim()}`);
  const gone = await Promise.race([disconnected, new Promise((r) => setTimeout(() => r(undefined), 5000))]);
  socket.close();
  check('the client is disconnected by the stop', gone !== undefined && gone.at >= stopAt, gone ? `${gone.reason} after ${secs(gone.at - stopAt)}` : 'no disconnect');
  const exit = await run('podman', ['inspect', '--format', '{{.State.ExitCode}} {{.State.OOMKilled}}', NAME]);
  check('the container exits with code 0', exit.stdout.trim() === '0 false', exit.stdout.trim());
  const logs = await run('podman', ['logs', NAME]);
  const text = logs.stdout + logs.stderr;
  check('the gateway logged the SIGTERM and its drain', /signal received/.test(text) && /SIGTERM/.test(text) && /draining connections/.test(text), '');
}

async function main() {
  if (spawnSync('podman', ['--version']).status !== 0) {
    log('podman is not installed: nothing to do');
    process.exit(2);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'image-smoke-'));
  const t0 = Date.now();
  let code = 0;
  const deadline = setTimeout(() => {
    log(`FAIL: the smoke did not finish within ${SMOKE_TIMEOUT_S} s after the build (IMAGE_SMOKE_TIMEOUT_S)`);
    spawnSync('podman', ['rm', '--force', NAME], { stdio: 'ignore' });
    process.exit(1);
  }, (BASE_TIMEOUT_S + BUILD_TIMEOUT_S + SMOKE_TIMEOUT_S) * 1000);
  deadline.unref();
  try {
    if (!args.has('--no-build')) {
      await buildBase(tmp);
      await buildImage(tmp);
    }
    await inspectImage();
    const smokeDeadline = setTimeout(() => {
      log(`FAIL: the smoke did not finish within ${SMOKE_TIMEOUT_S} s (IMAGE_SMOKE_TIMEOUT_S)`);
      spawnSync('podman', ['logs', '--tail', '40', NAME], { stdio: 'inherit' });
      spawnSync('podman', ['rm', '--force', NAME], { stdio: 'ignore' });
      process.exit(1);
    }, SMOKE_TIMEOUT_S * 1000);
    const s0 = Date.now();
    await smoke();
    clearTimeout(smokeDeadline);
    log(`smoke ran in ${secs(Date.now() - s0)}`);
  } catch (err) {
    if (err instanceof Skip) {
      log(`SKIPPED: ${err.message}`);
      code = process.env.IMAGE_BASE_REQUIRED === '1' ? 1 : 0;
    } else {
      if (!(err instanceof SmokeFailure)) log(`FAIL: ${err && err.stack ? err.stack : err}`);
      const logs = spawnSync('podman', ['logs', '--tail', '40', NAME], { encoding: 'utf8' });
      if (logs.status === 0) process.stdout.write(`--- container log (last 40 lines) ---\n${logs.stdout}${logs.stderr}\n`);
      code = 1;
    }
  } finally {
    spawnSync('podman', ['rm', '--force', NAME], { stdio: 'ignore' });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const failed = checks.filter((c) => !c.ok).length;
  log(`${checks.length - failed} checks passed, ${failed} failed, in ${secs(Date.now() - t0)}${code === 0 && failed === 0 ? '' : ' (FAILED)'}`);
  process.exit(code);
}

main();
