import { ErrorCodes, GatewayError } from '../../shared/errors';
import { uploadPercentage } from '../../shared/messages/uploads';
import type { FeatureContext } from '../handlers/context';
import { joinedRooms } from '../handlers/membership';
import type { GatewaySocket } from '../types';
import type { UploadAdmission } from './admission';
import { sanitizeFilename } from './metadata';

/** A relayed file as one socket reported it. `checked` settles once the file is known not to be the gateway's own upload. */
interface Relayed {
  bytes: number;
  readonly total: number;
  done: boolean;
  readonly checked: Promise<void>;
}

/** Files one socket may be relaying at once; the oldest is forgotten beyond that. */
const FILES_PER_SOCKET = 64;

const invalid = (message: string, path: string) => new GatewayError(ErrorCodes.INVALID_MESSAGE, message, { issues: [{ path, message }] });

/**
 * The seed's relay flow, for clients that store files elsewhere: their own `file_upload_progress`
 * and `file_upload_complete` go to the rest of every room the uploader is in. Checked first: the
 * socket is in a room (NOT_IN_ROOM), a file's progress only grows and keeps its total, nothing
 * follows its completion, and a file the gateway itself is receiving cannot be reported by the
 * client (the gateway reports that one). The event names the uploader (`user_id`) and carries the
 * gateway's own percentage; a completion's file name is sanitized and its URL must be http(s).
 */
export function registerUploadRelay(ctx: FeatureContext, admission: UploadAdmission): void {
  const files = new WeakMap<GatewaySocket, Map<string, Relayed>>();

  /** The socket's record of a file; the first message about it starts the ownership check. */
  const relayed = (socket: GatewaySocket, userId: string, fileId: string, total: number): Relayed => {
    let mine = files.get(socket);
    if (!mine) files.set(socket, (mine = new Map()));
    let file = mine.get(fileId);
    if (!file) {
      const checked = admission.inFlight(userId, fileId).then((uploadId) => {
        if (uploadId !== undefined) throw invalid(`file_id ${fileId} is an upload the gateway receives: it reports its progress`, 'file_id');
      });
      checked.catch(() => undefined);
      file = { bytes: -1, total, done: false, checked };
      mine.set(fileId, file);
      if (mine.size > FILES_PER_SOCKET) mine.delete(mine.keys().next().value as string);
    }
    return file;
  };

  const rooms = (socket: GatewaySocket): string[] => {
    const list = [...joinedRooms(socket)];
    if (list.length === 0) throw new GatewayError(ErrorCodes.NOT_IN_ROOM, 'Join a room first: progress goes to your rooms');
    return list;
  };

  ctx.handle('file_upload_progress', async ({ file_id, bytes_uploaded, total_bytes }, call) => {
    const to = rooms(call.socket);
    const file = relayed(call.socket, call.principal.userId, file_id, total_bytes);
    await file.checked;
    if (file.done) throw invalid(`file_id ${file_id} is complete already`, 'file_id');
    if (total_bytes !== file.total) throw invalid(`total_bytes must stay ${file.total} for this file`, 'total_bytes');
    if (bytes_uploaded < file.bytes) throw invalid(`bytes_uploaded must not go back (last ${file.bytes})`, 'bytes_uploaded');
    file.bytes = bytes_uploaded;
    const event = { file_id, bytes_uploaded, total_bytes, percentage: uploadPercentage(bytes_uploaded, total_bytes), user_id: call.principal.userId };
    ctx.rooms.toRooms(to, 'file_upload_progress', event, { except: call.socket });
  });

  ctx.handle('file_upload_complete', async ({ file_id, filename, url, file_size, mime_type }, call) => {
    const to = rooms(call.socket);
    const file = relayed(call.socket, call.principal.userId, file_id, file_size ?? 0);
    await file.checked;
    if (file.done) throw invalid(`file_id ${file_id} is complete already`, 'file_id');
    if (file_size !== undefined && file.total > 0 && file_size !== file.total) throw invalid(`file_size must be ${file.total}, the total its progress reported`, 'file_size');
    await ctx.rooms.reserve(to);
    file.done = true;
    const event = {
      file_id,
      filename: sanitizeFilename(filename),
      url,
      user_id: call.principal.userId,
      ...(file_size !== undefined ? { file_size } : {}),
      ...(mime_type !== undefined ? { mime_type } : {}),
    };
    ctx.rooms.toRooms(to, 'file_upload_complete', event, { except: call.socket });
  });
}
