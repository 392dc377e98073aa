import type { Cell } from '../../shared/messages/cells';

/** The most cells and bytes of a sheet range that go into a prompt. */
export const MAX_CONTEXT_CELLS = 2000;
export const MAX_CONTEXT_BYTES = 64 * 1024;

/** Column letters to a 1-based index (`A` 1, `Z` 26, `AA` 27). */
function columnIndex(letters: string): number {
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n;
}

function columnName(index: number): string {
  let name = '';
  for (let n = index; n > 0; n = Math.floor((n - 1) / 26)) name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  return name;
}

const CELL = /^([A-Za-z]{1,3})([1-9][0-9]{0,6})$/;

/** An A1-style cell id's column and row, or undefined for ids that are not A1 references. */
export function cellPosition(cellId: string): { col: number; row: number } | undefined {
  const m = CELL.exec(cellId);
  return m ? { col: columnIndex(m[1]), row: Number(m[2]) } : undefined;
}

/**
 * The stored cells of `range` (`A1:Z100`) as a tab-separated table with a header row of column
 * letters and a first column of row numbers, for the prompt: "analyze this data" then means the
 * sheet's real data. Only rows and columns that hold a value are listed; at most
 * MAX_CONTEXT_CELLS cells and MAX_CONTEXT_BYTES bytes (the table says when it was cut).
 */
export function rangeTable(cells: Readonly<Record<string, Cell>>, range: string): { table: string; cells: number; truncated: boolean } {
  const [from, to] = range.split(':').map(cellPosition);
  if (!from || !to) return { table: '', cells: 0, truncated: false };
  const [c0, c1] = [Math.min(from.col, to.col), Math.max(from.col, to.col)];
  const [r0, r1] = [Math.min(from.row, to.row), Math.max(from.row, to.row)];
  const inRange = new Map<number, Map<number, string>>();
  let count = 0;
  let truncated = false;
  const entries = Object.entries(cells)
    .map(([id, cell]) => ({ pos: cellPosition(id), cell }))
    .filter((e): e is { pos: { col: number; row: number }; cell: Cell } => !!e.pos && e.pos.col >= c0 && e.pos.col <= c1 && e.pos.row >= r0 && e.pos.row <= r1)
    .sort((a, b) => a.pos.row - b.pos.row || a.pos.col - b.pos.col);
  for (const { pos, cell } of entries) {
    if (count >= MAX_CONTEXT_CELLS) {
      truncated = true;
      break;
    }
    const text = cell.value === null ? '' : String(cell.value).replace(/[\t\r\n]+/g, ' ');
    let row = inRange.get(pos.row);
    if (!row) inRange.set(pos.row, (row = new Map()));
    row.set(pos.col, text);
    count++;
  }
  const cols = [...new Set([...inRange.values()].flatMap((r) => [...r.keys()]))].sort((a, b) => a - b);
  const lines = [['', ...cols.map(columnName)].join('\t')];
  let bytes = Buffer.byteLength(lines[0]);
  for (const [rowNumber, row] of inRange) {
    const line = [String(rowNumber), ...cols.map((c) => row.get(c) ?? '')].join('\t');
    bytes += Buffer.byteLength(line) + 1;
    if (bytes > MAX_CONTEXT_BYTES) {
      truncated = true;
      break;
    }
    lines.push(line);
  }
  return { table: count ? lines.join('\n') : '', cells: count, truncated };
}
