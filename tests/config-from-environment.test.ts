import { ConfigError, loadConfig } from '../server/config';

describe('configuration from the environment', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, host: '0.0.0.0', env: 'development', logLevel: 'info', redisUrl: undefined, maxMessageBytes: 65536 });
    expect(config.jwt.generated).toBe(true);
    expect(config.jwt.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.jwt)).toBe(true);
  });

  it('names every bad variable in one message', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'http://nope', LOG_LEVEL: 'loud', JWT_SECRET: 'short' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['PORT', 'REDIS_URL', 'LOG_LEVEL', 'JWT_SECRET']) expect(message).toContain(name);
  });

  it('refuses to start in production without a JWT setting', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET or JWT_PUBLIC_KEY/);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'a-production-secret-value' }).jwt.generated).toBe(false);
  });

  it('reads a PEM key with escaped newlines and a comma list of origins', () => {
    const config = loadConfig({
      JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\\nabc\\n-----END PUBLIC KEY-----',
      ALLOWED_ORIGINS: 'https://app.example.com, https://*.example.org',
    });
    expect(config.jwt.publicKey).toBe('-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----');
    expect(config.jwt.secret).toBeUndefined();
    expect(config.allowedOrigins).toEqual(['https://app.example.com', 'https://*.example.org']);
  });

  it('requires the presence TTL to exceed the heartbeat', () => {
    expect(() => loadConfig({ PRESENCE_HEARTBEAT_MS: '5000', PRESENCE_TTL_MS: '4000' })).toThrow(/PRESENCE_TTL_MS/);
  });

  it('has the seeds\' rate limits as defaults, and 0 turns a limit off', () => {
    const config = loadConfig({});
    expect(config.limits).toEqual({
      userRequestsPerMinute: 60,
      userRequestsPerHour: 1000,
      blockDurationMs: 15 * 60_000,
      connectionRequestsPerMinute: 100,
      streamMessagesPerSecond: 50,
      controlMessagesPerMinute: 30,
      disconnectAfterRefusals: 100,
      maxInFlightPerConnection: 32,
      maxConnectionsPerUser: 5,
      connectionsPerIpPerMinute: 0,
      roomBroadcastsPerMinute: 1000,
    });
    expect(loadConfig({ WEBSOCKET_REQUESTS_PER_MINUTE: '0' }).limits.userRequestsPerMinute).toBe(0);
    expect(config.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toEqual(['loopback', '10.0.0.0/8']);
    expect(() => loadConfig({ MAX_BUFFERED_BYTES: '2000000', SLOW_CONSUMER_MAX_BYTES: '1000000' })).toThrow(/SLOW_CONSUMER_MAX_BYTES/);
  });

  it("accepts the seeds' legacy variable names, converting seconds, and refuses two names that disagree", () => {
    const config = loadConfig({
      JWT_SECRET_KEY: 'a-legacy-secret-long-enough',
      WEBSOCKET_ALLOWED_ORIGINS: 'https://a.example.com,https://b.example.com',
      WEBSOCKET_PING_INTERVAL: '25',
      WEBSOCKET_PING_TIMEOUT: '60',
      WEBSOCKET_MAX_MESSAGE_RATE: '90',
    });
    expect(config.jwt).toMatchObject({ secret: 'a-legacy-secret-long-enough', generated: false });
    expect(config.allowedOrigins).toEqual(['https://a.example.com', 'https://b.example.com']);
    expect(config.pingIntervalMs).toBe(25_000);
    expect(config.pingTimeoutMs).toBe(60_000);
    expect(config.limits.userRequestsPerMinute).toBe(90);
    // The same value under both names is fine (order of a list does not matter).
    expect(loadConfig({ ALLOWED_ORIGINS: 'https://b.example.com, https://a.example.com', WEBSOCKET_ALLOWED_ORIGINS: 'https://a.example.com,https://b.example.com' }).allowedOrigins).toHaveLength(2);
    expect(loadConfig({ PING_INTERVAL_MS: '25000', WEBSOCKET_PING_INTERVAL: '25' }).pingIntervalMs).toBe(25_000);

    let error: unknown;
    try {
      loadConfig({ JWT_SECRET: 'one-secret-long-enough-here', JWT_SECRET_KEY: 'another-secret-long-enough', PING_TIMEOUT_MS: '1000', WEBSOCKET_PING_TIMEOUT: '60' });
    } catch (err) {
      error = err;
    }
    const message = (error as Error).message;
    expect(message).toMatch(/JWT_SECRET: disagrees with its legacy name JWT_SECRET_KEY; set only one/);
    expect(message).toMatch(/PING_TIMEOUT_MS: disagrees with its legacy name WEBSOCKET_PING_TIMEOUT \(PING_TIMEOUT_MS=1000, WEBSOCKET_PING_TIMEOUT=60\)/);
    // A secret never appears in the message.
    expect(message).not.toContain('one-secret');
    expect(message).not.toContain('another-secret');
  });
});
