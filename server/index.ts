import { issueDevToken } from './auth/dev-token';
import { ConfigError, loadConfig } from './config';
import { createGateway } from './gateway';
import { createLogger } from './logger';

/** The process entry: config, logger, one gateway, and a bounded graceful stop on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config);
  const log = logger.child({ module: 'main' });
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', { error: String(reason) }));

  const gateway = await createGateway(config, { logger });
  if (config.jwt.generated && config.jwt.secret) {
    // Development only: a token for the generated secret, so the gateway is usable at once.
    process.stdout.write(
      `\nNo JWT_SECRET or JWT_PUBLIC_KEY set: using a generated development secret.\n` +
        `Development token (user dev-user, role admin, valid 24h):\n\n  ${issueDevToken(config.jwt.secret)}\n\n` +
        `Connect: io("http://localhost:${gateway.port}", { auth: { token } })\n` +
        `Demo: http://localhost:${gateway.port}/demo/ (open it in two windows)   Admin UI: http://localhost:${gateway.port}/admin/ (password: the token)\n\n`,
    );
  }

  // One deadline bounds the whole stop, counted from its start (the signal, or the admin API's
  // request): DRAIN_MS for closing the connections plus SHUTDOWN_TIMEOUT_MS for the rest (calls in
  // flight, presence, Redis). The Helm chart's terminationGracePeriodSeconds is their sum plus 5 s.
  const deadlineMs = config.drainMs + config.shutdownTimeoutMs;
  let deadline: NodeJS.Timeout | undefined;
  const armDeadline = () => {
    if (deadline) return;
    deadline = setTimeout(() => {
      log.error('graceful stop timed out, exiting', { deadline_ms: deadlineMs });
      process.exit(1);
    }, deadlineMs);
    deadline.unref();
  };
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('signal received, stopping', { signal, drain_ms: config.drainMs, deadline_ms: deadlineMs });
    armDeadline();
    gateway.close().then(
      () => process.exit(0),
      (err) => {
        log.error('stop failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  // A stop the admin API started (POST /api/v1/ws/shutdown) has the same deadline and ends the
  // process the same way.
  void gateway.stopping.then(armDeadline);
  void gateway.closed.then(() => stop('shutdown requested'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`gateway failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
