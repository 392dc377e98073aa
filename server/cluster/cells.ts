import type { Cell } from '../../shared/messages/cells';
import type { KeySpace } from './keys';
import { keySpaceOf, type DataClient } from './redis';
import { upstream } from './upstream';

/** A cell write: the client's base version (0 when it believes the cell new) and the new content. */
export interface CellWrite {
  readonly value: Cell['value'];
  readonly formula: string | null;
  readonly baseVersion: number;
  readonly user_id: string;
  readonly username: string;
  readonly updated_at: string;
}

export type CellResult = { readonly ok: true; readonly cell: Cell } | { readonly ok: false; readonly current: Cell };

/**
 * Versioned cells, compare-and-set across pods. A write applies when the cell does not exist yet or
 * when its base version equals the stored one; the new version is max(stored, base) + 1, so versions
 * of one cell only ever increase. Rooms remember which sheets were edited in them.
 */
export interface CellStore {
  update(sheetId: string, cellId: string, write: CellWrite): Promise<CellResult>;
  sheet(sheetId: string): Promise<Record<string, Cell>>;
  addActiveSheet(roomId: string, sheetId: string): Promise<void>;
  activeSheets(roomId: string): Promise<string[]>;
}

function cellOf(write: CellWrite, version: number): Cell {
  const { value, formula, user_id, username, updated_at } = write;
  return { value, formula, version, user_id, username, updated_at };
}

export class MemoryCellStore implements CellStore {
  private readonly sheets = new Map<string, Map<string, Cell>>();
  private readonly roomSheets = new Map<string, Set<string>>();

  async update(sheetId: string, cellId: string, write: CellWrite): Promise<CellResult> {
    let cells = this.sheets.get(sheetId);
    if (!cells) this.sheets.set(sheetId, (cells = new Map()));
    const current = cells.get(cellId);
    if (current && current.version !== write.baseVersion) return { ok: false, current };
    const cell = cellOf(write, Math.max(current?.version ?? 0, write.baseVersion) + 1);
    cells.set(cellId, cell);
    return { ok: true, cell };
  }

  async sheet(sheetId: string): Promise<Record<string, Cell>> {
    return Object.fromEntries(this.sheets.get(sheetId) ?? []);
  }

  async addActiveSheet(roomId: string, sheetId: string): Promise<void> {
    let set = this.roomSheets.get(roomId);
    if (!set) this.roomSheets.set(roomId, (set = new Set()));
    set.add(sheetId);
  }

  async activeSheets(roomId: string): Promise<string[]> {
    return [...(this.roomSheets.get(roomId) ?? [])].sort();
  }
}

/** A sheet's two keys share its hash tag (one slot on a cluster: the compare-and-set touches both). */
const K = (keys: KeySpace) => ({
  versions: (sheet: string) => `rg:sheet:${keys.tag(sheet)}:versions`,
  cells: (sheet: string) => `rg:sheet:${keys.tag(sheet)}:cells`,
  roomSheets: (room: string) => `rg:room-sheets:${keys.tag(room)}`,
});

/**
 * The compare-and-set, atomic in Redis. Versions are kept as integer strings beside the cell JSON,
 * which is assembled here so a version never passes through a float formatter.
 */
const CAS = `
local stored = redis.call('HGET', KEYS[1], ARGV[1])
local base = tonumber(ARGV[2])
if stored then
  stored = tonumber(stored)
  if base ~= stored then return { 0, redis.call('HGET', KEYS[2], ARGV[1]) } end
else
  stored = 0
end
local version = string.format('%d', math.max(stored, base) + 1)
redis.call('HSET', KEYS[1], ARGV[1], version)
local cell = ARGV[3] .. ',"version":' .. version .. '}'
redis.call('HSET', KEYS[2], ARGV[1], cell)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return { 1, cell }`;

export class RedisCellStore implements CellStore {
  private readonly k: ReturnType<typeof K>;

  constructor(
    private readonly redis: DataClient,
    private readonly ttlSeconds: number,
    keys: KeySpace = keySpaceOf(redis),
  ) {
    this.k = K(keys);
  }

  async update(sheetId: string, cellId: string, write: CellWrite): Promise<CellResult> {
    const { value, formula, user_id, username, updated_at } = write;
    const prefix = JSON.stringify({ value, formula, user_id, username, updated_at }).slice(0, -1);
    const [applied, json] = (await upstream(() =>
      this.redis.eval(CAS, {
        keys: [this.k.versions(sheetId), this.k.cells(sheetId)],
        arguments: [cellId, String(write.baseVersion), prefix, String(this.ttlSeconds)],
      }),
    )) as [number, string];
    const cell = JSON.parse(json) as Cell;
    return applied === 1 ? { ok: true, cell } : { ok: false, current: cell };
  }

  async sheet(sheetId: string): Promise<Record<string, Cell>> {
    const all = await upstream(() => this.redis.hGetAll(this.k.cells(sheetId)));
    return Object.fromEntries(Object.entries(all).map(([id, json]) => [id, JSON.parse(json) as Cell]));
  }

  async addActiveSheet(roomId: string, sheetId: string): Promise<void> {
    await upstream(() =>
      this.redis.multi().sAdd(this.k.roomSheets(roomId), sheetId).expire(this.k.roomSheets(roomId), this.ttlSeconds).exec(),
    );
  }

  async activeSheets(roomId: string): Promise<string[]> {
    return (await upstream(() => this.redis.sMembers(this.k.roomSheets(roomId)))).sort();
  }
}
