import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, urlOf } from './support/gateway';
import { cleanUpAfterEach } from './support/lifecycle';
import { token } from './support/tokens';

cleanUpAfterEach();

const PACKAGE = join(__dirname, '..', 'clients');
const BUNDLE = join(PACKAGE, 'dist', 'browser', 'gateway-client.js');

/** A project of its own that depends on the package by name (node_modules/@realtime-gateway/client → clients/). */
let project: string;
beforeAll(() => {
  for (const built of [join(PACKAGE, 'dist', 'clients', 'src', 'index.js'), BUNDLE]) {
    if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` (npm test does it first)`);
  }
  project = mkdtempSync(join(tmpdir(), 'rg-client-consumer-'));
  mkdirSync(join(project, 'node_modules', '@realtime-gateway'), { recursive: true });
  symlinkSync(PACKAGE, join(project, 'node_modules', '@realtime-gateway', 'client'), 'dir');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

/** Runs node on a script; resolves with its last stdout line parsed as JSON. */
function runNode(args: string[], env: Record<string, string>): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: project, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`node exited with ${code}:\n${err}\n${out}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!));
    });
  });
}

/** One script for both builds: the three clients against a gateway, then what they got back. */
const EXERCISE = `
  const [url, tok] = [process.env.GW, process.env.TOKEN];
  const opts = { url, token: tok, maxReconnectAttempts: 0 };
  const sio = new SocketClient({ ...opts, namespace: '/workspace' });
  const flat = new NativeClient({ ...opts, dialect: workspaceDialect });
  const agent = new NativeClient({ ...opts, dialect: agentsDialect });
  await Promise.all([sio.ready(), flat.ready(), agent.ready()]);
  const out = {
    join: await sio.request('join_room', { room_id: 'built' }),
    cell: (await agent.request('cell_update', { sheet_id: 's', cell_id: 'A1', value: 1 })).version,
    refused: await agent.request('cell_update', { sheet_id: 's', cell_id: 'A1', value: 2, version: 0 }).then(() => null, (e) => [e instanceof GatewayError, e.code]),
    sheet: Object.keys((await flat.request('sheet_state', { sheet_id: 's' })).cells),
    endpoints: [flat.stats.url, agent.stats.url],
  };
  for (const c of [sio, flat, agent]) c.close();
  console.log(JSON.stringify(out));
`;

const expected = (port: number) => ({
  join: { room_id: 'built' },
  cell: 1,
  sheet: ['A1'],
  refused: [true, 'VERSION_CONFLICT'],
  endpoints: [`ws://127.0.0.1:${port}/api/v1/ws`, `ws://127.0.0.1:${port}/ws`],
});

describe('the built package', () => {
  it('runs in Node as an ES module imported by its name (ws loaded when there is no global WebSocket)', async () => {
    const gw = await startGateway();
    const script = `import { SocketClient, NativeClient, workspaceDialect, agentsDialect, GatewayError } from '@realtime-gateway/client';\n${EXERCISE}`;
    writeFileSync(join(project, 'esm.mjs'), script);
    const env = { GW: urlOf(gw), TOKEN: token({ sub: 'esm' }) };
    expect(await runNode([join(project, 'esm.mjs')], env)).toEqual(expected(gw.port));
  });

  it('runs the browser bundle (IIFE, global RealtimeGateway) on a global WebSocket', async () => {
    const gw = await startGateway();
    const script = `
      require('node:vm').runInThisContext(require('node:fs').readFileSync(${JSON.stringify(BUNDLE)}, 'utf8'));
      if (typeof WebSocket !== 'function') throw new Error('no global WebSocket');
      const { SocketClient, NativeClient, workspaceDialect, agentsDialect, GatewayError } = globalThis.RealtimeGateway;
      (async () => {${EXERCISE}})().catch((err) => { console.error(err); process.exit(1); });`;
    writeFileSync(join(project, 'browser.cjs'), script);
    const env = { GW: urlOf(gw), TOKEN: token({ sub: 'web' }) };
    expect(await runNode(['--experimental-websocket', '--no-warnings', join(project, 'browser.cjs')], env)).toEqual(expected(gw.port));
  });

  it('gives TypeScript consumers (moduleResolution nodenext) the catalogue types through its exports map', () => {
    writeFileSync(
      join(project, 'consumer.ts'),
      `import { SocketClient, GatewayError, type ConnectionStats } from '@realtime-gateway/client';
      import { NativeClient, agentsDialect } from '@realtime-gateway/client/native';
      export async function typed(sio: SocketClient): Promise<number> {
        const ack = await sio.request('cell_update', { sheet_id: 's', cell_id: 'A1', value: 1 });
        const author: string = ack.cell.user_id;
        // @ts-expect-error cell_update has no field "nope"
        sio.send('cell_update', { sheet_id: 's', cell_id: 'A1', value: 1, nope: true });
        // @ts-expect-error not a message type of the catalogue
        await sio.request('no_such_type', {});
        sio.on('room_state', (state) => state.users.map((u) => u.user_id));
        // @ts-expect-error room_state has no field "nope"
        sio.on('room_state', (state) => state.nope);
        const agent = new NativeClient({ url: 'http://localhost:3000', dialect: agentsDialect, token: () => 'jwt' });
        const joined: { room_id: string } = await agent.request('join_room', { room_id: author });
        const stats: ConnectionStats = agent.stats;
        const code: string | undefined = new GatewayError('NOT_IN_ROOM').code;
        return ack.version + stats.connects + joined.room_id.length + (code ? 1 : 0);
      }\n`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: [], lib: ['es2022', 'dom'] }, files: ['consumer.ts'] }),
    );
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], { encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  });
});
