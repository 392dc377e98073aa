import { z } from 'zod';
import { Cursor, RoomId, defineClientMessages, defineServerMessages, message } from './define';

/** Seed 002 sections 2 and 3: cursors and versioned cells. Served on `/workspace`. */
const SheetId = z.string().min(1).max(128);
const CellId = z.string().min(1).max(64);
/** Versions are integers a JavaScript client can hold exactly (seed 002 uses epoch-millisecond-like values). */
const Version = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER - 1);

export const CellValue = z.union([z.string(), z.number().finite(), z.boolean(), z.null()]);

export const Cell = z.object({
  value: CellValue,
  formula: z.string().nullable(),
  version: z.number().int(),
  user_id: z.string(),
  username: z.string(),
  updated_at: z.string(),
});
export type Cell = z.infer<typeof Cell>;

const SheetState = z.object({ sheet_id: z.string(), cells: z.record(Cell) });

export const cellClientMessages = defineClientMessages('/workspace', {
  cursor_move: message({
    schema: z.object({ room: RoomId, x: z.number().finite(), y: z.number().finite(), cell: z.string().max(64).optional() }),
    rate: 'stream',
    maxBytes: 1024,
  }),
  cell_update: message({
    schema: z.object({
      sheet_id: SheetId,
      cell_id: CellId,
      value: CellValue,
      formula: z.string().nullable().optional(),
      /** The version the client last saw; absent or 0 for a cell it believes new. */
      version: Version.optional(),
    }),
    rate: 'request',
    ack: z.object({ version: z.number().int(), cell: Cell }),
  }),
  sheet_state: message({ schema: z.object({ sheet_id: SheetId }), rate: 'request', ack: SheetState, reply: 'sheet_state' }),
});

export const cellServerMessages = defineServerMessages('/workspace', {
  cursor_moved: z.object({ user_id: z.string(), username: z.string(), room_id: z.string(), cursor: Cursor }),
  cell_updated: Cell.extend({ sheet_id: z.string(), cell_id: z.string() }),
  sheet_state: SheetState,
});
