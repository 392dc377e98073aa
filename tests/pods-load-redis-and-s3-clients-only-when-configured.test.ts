import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { testEnv } from './support/gateway';
import { useRedis } from './support/lifecycle';

const DIST = join(__dirname, '..', 'dist', 'server');

/**
 * Starts a gateway from the built code in a process of its own, stops it, and prints which of the
 * Redis and S3 client libraries it loaded (from require.cache): only a fresh process shows what
 * start-up alone loads.
 */
const PROBE = `
const { loadConfig } = require(${JSON.stringify(join(DIST, 'config'))});
const { createGateway } = require(${JSON.stringify(join(DIST, 'gateway'))});
(async () => {
  const gateway = await createGateway(loadConfig(process.env));
  const loaded = (name) => Object.keys(require.cache).some((file) => file.includes('/node_modules/' + name + '/'));
  const libraries = ['redis', '@redis/client', 'ioredis', '@socket.io/redis-adapter', '@tus/s3-store', '@aws-sdk/client-s3'];
  const out = Object.fromEntries(libraries.map((name) => [name, loaded(name)]));
  await gateway.close();
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
`;

async function librariesLoaded(env: Record<string, string>): Promise<Record<string, boolean>> {
  if (!existsSync(join(DIST, 'gateway.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', PROBE], {
    env: { PATH: process.env.PATH, ...testEnv({ LOG_LEVEL: 'error', PORT: '0', DRAIN_MS: '0', ...env }) } as NodeJS.ProcessEnv,
    timeout: 20_000,
  });
  return JSON.parse(stdout) as Record<string, boolean>;
}

const redis = useRedis();

describe('start-up loads a client library only for what is configured', () => {
  it('one pod in memory, uploads on disk: no Redis client, no Redis adapter, no AWS SDK', async () => {
    expect(await librariesLoaded({})).toEqual({
      redis: false,
      '@redis/client': false,
      ioredis: false,
      '@socket.io/redis-adapter': false,
      '@tus/s3-store': false,
      '@aws-sdk/client-s3': false,
    });
  });

  it('REDIS_URL loads node-redis and the adapter; UPLOAD_S3_BUCKET loads the S3 store', async () => {
    expect(await librariesLoaded({ REDIS_URL: redis.url, UPLOAD_S3_BUCKET: 'uploads', UPLOAD_S3_ENDPOINT: 'http://127.0.0.1:9' })).toMatchObject({
      redis: true,
      '@redis/client': true,
      '@socket.io/redis-adapter': true,
      '@tus/s3-store': true,
      '@aws-sdk/client-s3': true,
    });
  });
});
