/** Why the client asks for a token: its first connection, a reconnection, or a live refresh before expiry. */
export type TokenReason = 'connect' | 'reconnect' | 'expiring';

/**
 * The JWT: a fixed string, or a function called on every (re)connection and before expiry, so a
 * short-lived token is replaced by a fresh one (from a refresh endpoint, a cookie session, ...).
 */
export type TokenProvider = string | ((reason: TokenReason) => string | Promise<string>);

export function tokenFor(provider: TokenProvider, reason: TokenReason): Promise<string> {
  return typeof provider === 'string' ? Promise.resolve(provider) : Promise.resolve().then(() => provider(reason));
}
