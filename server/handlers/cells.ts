import { ErrorCodes, GatewayError } from '../../shared/errors';
import type { Feature } from './context';

/**
 * Versioned cells (seed 002 section 3). An update carries the version the client last saw; it
 * applies atomically across pods (compare-and-set in the cell store) and cell_updated, with a new
 * strictly greater version, goes to every member of the sender's rooms, the sender included (its
 * optimistic edit confirmed). A stale version gets VERSION_CONFLICT with the current cell and
 * nothing is broadcast. sheet_state gives a late joiner every stored cell of a sheet.
 */
export const registerCells: Feature = (ctx) => {
  const { cells } = ctx.stores;

  ctx.handle('cell_update', async ({ sheet_id, cell_id, value, formula, version }, call) => {
    const size = Buffer.byteLength(typeof value === 'string' ? value : JSON.stringify(value)) + Buffer.byteLength(formula ?? '');
    if (size > ctx.config.cellMaxBytes) {
      throw new GatewayError(ErrorCodes.MESSAGE_TOO_LARGE, `Cell content of ${size} bytes exceeds the limit of ${ctx.config.cellMaxBytes}`, { limit: ctx.config.cellMaxBytes });
    }
    const rooms = [...(call.socket.data.rooms ?? [])];
    await ctx.rooms.reserve(rooms);
    const { userId, username } = call.principal;
    const result = await cells.update(sheet_id, cell_id, {
      value,
      formula: formula ?? null,
      baseVersion: version ?? 0,
      user_id: userId,
      username,
      updated_at: new Date().toISOString(),
    });
    if (!result.ok) {
      throw new GatewayError(ErrorCodes.VERSION_CONFLICT, `Cell ${cell_id} is at version ${result.current.version}`, {
        sheet_id,
        cell_id,
        current: result.current,
      });
    }
    const update = { sheet_id, cell_id, ...result.cell };
    if (rooms.length) {
      ctx.rooms.toRooms(rooms, 'cell_updated', update);
      await Promise.all(rooms.map((roomId) => cells.addActiveSheet(roomId, sheet_id)));
    } else {
      call.socket.emit('cell_updated', update);
    }
    return { version: result.cell.version, cell: result.cell };
  });

  ctx.handle('sheet_state', async ({ sheet_id }) => ({ sheet_id, cells: await cells.sheet(sheet_id) }));
};
