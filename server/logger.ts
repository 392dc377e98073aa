import winston from 'winston';
import type { Config } from './config';

export type Logger = winston.Logger;

/** Field names whose values never reach a log line. */
const SECRET_KEYS = new Set(['token', 'authorization', 'jwt', 'secret', 'password']);

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_KEYS.has(key.toLowerCase())) info[key] = '[redacted]';
  }
  return info;
});

/** JSON lines in production, readable lines elsewhere. Modules take a child: `logger.child({module})`. */
export function createLogger(config: Pick<Config, 'env' | 'logLevel' | 'podId'>): Logger {
  const format =
    config.env === 'production'
      ? winston.format.combine(redact(), winston.format.timestamp(), winston.format.json())
      : winston.format.combine(
          redact(),
          winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
          winston.format.printf(({ timestamp, level, message, module, ...rest }) => {
            const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
            return `${timestamp} ${level} [${module ?? 'gateway'}] ${message}${extra}`;
          }),
        );
  return winston.createLogger({
    level: config.logLevel,
    defaultMeta: config.env === 'production' ? { pod: config.podId } : undefined,
    format,
    transports: [new winston.transports.Console({ stderrLevels: ['error'] })],
  });
}
