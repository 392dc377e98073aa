import { loadConfig, type Config } from '../../server/config';
import { createGateway, type Gateway } from '../../server/gateway';
import { createLogger } from '../../server/logger';
import { TEST_SECRET } from './tokens';

/** Environment for a test gateway: port 0, quiet logs, the test secret, fast presence timers. */
export function testEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    JWT_SECRET: TEST_SECRET,
    PRESENCE_HEARTBEAT_MS: '500',
    PRESENCE_TTL_MS: '2000',
    ...overrides,
  };
}

const running = new Set<Gateway>();

/** Starts a gateway in this process; `stopGateways()` (in afterEach/afterAll) stops every one. */
export async function startGateway(overrides: Record<string, string | undefined> = {}): Promise<Gateway> {
  const config: Config = loadConfig(testEnv(overrides));
  const gateway = await createGateway(config, { logger: createLogger(config) });
  running.add(gateway);
  return gateway;
}

export async function stopGateway(gateway: Gateway): Promise<void> {
  running.delete(gateway);
  await gateway.close();
}

export async function stopGateways(): Promise<void> {
  await Promise.all([...running].map(stopGateway));
}

export const urlOf = (gateway: Gateway | number, path = ''): string =>
  `http://127.0.0.1:${typeof gateway === 'number' ? gateway : gateway.port}${path}`;
