import { globToRegExp } from './principal';

/**
 * The origin allowlist (ALLOWED_ORIGINS, `*` wildcards such as `https://*.example.com`). An empty
 * list allows every origin; a request without an Origin header (not a browser) is always allowed,
 * since origin checks only protect browsers from cross-site use of their credentials.
 */
export function createOriginCheck(patterns: readonly string[]): (origin: string | undefined) => boolean {
  if (patterns.length === 0 || patterns.includes('*')) return () => true;
  const res = patterns.map(globToRegExp);
  return (origin) => origin === undefined || res.some((re) => re.test(origin));
}
