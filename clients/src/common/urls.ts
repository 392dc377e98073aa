/**
 * Where to connect: one URL, several (tried in turn: each attempt takes the next one, so losing a
 * pod moves the client to another), or a function of the attempt number (a service registry, a
 * load balancer's list), possibly asynchronous.
 */
export type UrlSource = string | readonly string[] | ((attempt: number) => string | Promise<string>);

/** The URL of attempt `n` (0, 1, 2, ... across the client's life). */
export function urlForAttempt(source: UrlSource, attempt: number): Promise<string> {
  if (typeof source === 'string') return Promise.resolve(source);
  if (typeof source === 'function') return Promise.resolve().then(() => source(attempt));
  if (source.length === 0) return Promise.reject(new Error('no URL to connect to'));
  return Promise.resolve(source[attempt % source.length]);
}

/** The URL without a trailing slash. */
export const trimSlash = (url: string): string => url.replace(/\/+$/, '');
