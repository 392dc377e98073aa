import { closeClients } from './clients';
import { stopGateways } from './gateway';
import { killPods } from './pods';
import { TestRedis } from './redis';

/** After each test: close every client, stop every in-process gateway, kill every pod process. */
export function cleanUpAfterEach(): void {
  afterEach(async () => {
    closeClients();
    await stopGateways();
    await killPods();
  });
}

/** A redis-server of this test file's own: started before its tests, stopped after them. */
export function useRedis(): { readonly server: TestRedis; readonly url: string } {
  let server: TestRedis | undefined;
  beforeAll(async () => {
    server = await TestRedis.start();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server() {
      if (!server) throw new Error('useRedis(): the server starts in beforeAll');
      return server;
    },
    get url() {
      return this.server.url;
    },
  };
}

/** A plain client of a test redis-server, as TestRedis.client() gives it. */
export type TestRedisClient = Awaited<ReturnType<TestRedis['client']>>;

/**
 * For contract suites on Redis: a plain client of the file's redis-server, handed to `use` once
 * it is connected, and an empty database before every test.
 */
export function useEmptyRedisEachTest(redis: { readonly server: TestRedis }, use: (client: TestRedisClient) => void): void {
  let client: TestRedisClient | undefined;
  beforeAll(async () => {
    client = await redis.server.client();
    use(client);
  });
  beforeEach(async () => {
    await client!.flushAll();
  });
}
