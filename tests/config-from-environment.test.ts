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
});
