/** Who is on the other end of a connection, from the verified token's claims. */
export interface Principal {
  readonly userId: string;
  readonly username: string;
  readonly email?: string;
  readonly roles: readonly string[];
  /** Glob patterns of the rooms this user may join; null means any room. */
  readonly roomPatterns: readonly RegExp[] | null;
  /** When the token expires (ms since the epoch, from `exp`); undefined for a token without `exp`. */
  readonly expiresAt?: number;
}

const globCache = new Map<string, RegExp>();
const GLOB_CACHE_LIMIT = 1000;

/** `*` matches any run of characters, `?` one character; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const cached = globCache.get(glob);
  if (cached) return cached;
  const source = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const re = new RegExp(`^${source}$`, 's');
  if (globCache.size >= GLOB_CACHE_LIMIT) globCache.clear();
  globCache.set(glob, re);
  return re;
}

export function mayJoin(principal: Principal, roomId: string): boolean {
  return principal.roomPatterns === null || principal.roomPatterns.some((re) => re.test(roomId));
}

export function isAdmin(principal: Principal): boolean {
  return principal.roles.includes('admin');
}
