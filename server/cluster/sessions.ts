import type { KeySpace } from './keys';
import { keySpaceOf, type DataClient } from './redis';
import { upstream } from './upstream';

export type SequenceResult = { readonly ok: true; readonly version: number } | { readonly ok: false; readonly version: number };

/**
 * Collaboration sessions' sequencer (seed 004): an edit made against the session's current version
 * is accepted and moves the session to version + 1; any other is stale. Atomic across pods.
 */
export interface SessionStore {
  version(sessionId: string): Promise<number>;
  sequence(sessionId: string, baseVersion: number): Promise<SequenceResult>;
}

export class MemorySessionStore implements SessionStore {
  private readonly versions = new Map<string, number>();

  async version(sessionId: string): Promise<number> {
    return this.versions.get(sessionId) ?? 0;
  }

  async sequence(sessionId: string, baseVersion: number): Promise<SequenceResult> {
    const current = this.versions.get(sessionId) ?? 0;
    if (current !== baseVersion) return { ok: false, version: current };
    this.versions.set(sessionId, current + 1);
    return { ok: true, version: current + 1 };
  }
}

const keyOf = (keys: KeySpace, sessionId: string) => `rg:session:${keys.tag(sessionId)}:version`;

const SEQUENCE = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current ~= tonumber(ARGV[1]) then return { 0, string.format('%d', current) } end
local next = string.format('%d', current + 1)
redis.call('SET', KEYS[1], next, 'EX', ARGV[2])
return { 1, next }`;

export class RedisSessionStore implements SessionStore {
  private readonly key: (sessionId: string) => string;

  constructor(
    private readonly redis: DataClient,
    private readonly ttlSeconds: number,
    keys: KeySpace = keySpaceOf(redis),
  ) {
    this.key = (sessionId) => keyOf(keys, sessionId);
  }

  async version(sessionId: string): Promise<number> {
    return Number((await upstream(() => this.redis.get(this.key(sessionId)))) ?? 0);
  }

  async sequence(sessionId: string, baseVersion: number): Promise<SequenceResult> {
    const [ok, version] = (await upstream(() =>
      this.redis.eval(SEQUENCE, { keys: [this.key(sessionId)], arguments: [String(baseVersion), String(this.ttlSeconds)] }),
    )) as [number, string];
    return { ok: ok === 1, version: Number(version) };
  }
}
