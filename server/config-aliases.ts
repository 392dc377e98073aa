/**
 * The seeds' own names for settings the gateway also reads under its names. A legacy name is
 * accepted where its meaning is the same; some differ only in unit (seconds instead of
 * milliseconds) and are converted. Setting both names to different values is a configuration
 * error: the gateway cannot know which one the operator meant.
 */
interface Alias {
  readonly legacy: string;
  readonly canonical: string;
  /** Converts the legacy value into the canonical variable's form. */
  readonly convert?: (value: string) => string;
  /** Never echoed in an error message. */
  readonly secret?: boolean;
}

const secondsToMs = (value: string): string => {
  const n = Number(value.trim());
  return Number.isFinite(n) ? String(Math.round(n * 1000)) : value;
};

export const LEGACY_ALIASES: readonly Alias[] = [
  { legacy: 'JWT_SECRET_KEY', canonical: 'JWT_SECRET', secret: true }, // seed 002
  { legacy: 'WEBSOCKET_ALLOWED_ORIGINS', canonical: 'ALLOWED_ORIGINS' }, // seed 001
  { legacy: 'WEBSOCKET_PING_INTERVAL', canonical: 'PING_INTERVAL_MS', convert: secondsToMs }, // seed 002, seconds
  { legacy: 'WEBSOCKET_PING_TIMEOUT', canonical: 'PING_TIMEOUT_MS', convert: secondsToMs }, // seed 002, seconds
  { legacy: 'WEBSOCKET_MAX_MESSAGE_RATE', canonical: 'WEBSOCKET_REQUESTS_PER_MINUTE' }, // seed 001, per user per minute
  { legacy: 'WEBSOCKET_HEARTBEAT_INTERVAL', canonical: 'NATIVE_HEARTBEAT_MS' }, // seed 001, milliseconds
];

const isSet = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';

/** Comma lists compare as sets of trimmed items; other values as trimmed strings. */
const normalise = (value: string): string =>
  value.includes(',') ? value.split(',').map((s) => s.trim()).filter(Boolean).sort().join(',') : value.trim();

/**
 * The environment with every legacy name folded into its canonical one, and the problems found
 * (a legacy and a canonical name that disagree).
 */
export function applyLegacyAliases(env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; problems: string[] } {
  const out: NodeJS.ProcessEnv = { ...env };
  const problems: string[] = [];
  for (const { legacy, canonical, convert, secret } of LEGACY_ALIASES) {
    const raw = env[legacy];
    if (!isSet(raw)) continue;
    const value = convert ? convert(raw) : raw;
    const current = env[canonical];
    if (isSet(current) && normalise(current) !== normalise(value)) {
      const values = secret ? '' : ` (${canonical}=${current.trim()}, ${legacy}=${raw.trim()})`;
      problems.push(`${canonical}: disagrees with its legacy name ${legacy}${values}; set only one`);
      continue;
    }
    out[canonical] = value;
  }
  return { env: out, problems };
}
