import { createWriteStream } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { answerStatsRequests, listenAddress } from './ipc-stats';

/**
 * The uploads scenario's bare HTTP path (bench/scenarios/upload.ts): plain `node:http`, its own
 * child process on 127.0.0.1, that streams each request's body to `UPLOAD_PIPE_DIR/<last path
 * segment>` (`fs.createWriteStream` with the 1 MiB highWaterMark of the gateway's DiskStore,
 * `pipeline` as the DiskStore does) and answers 204 once the file is closed. No auth, no tus
 * headers read, no offsets, no metadata: what any HTTP upload into a file costs on this machine,
 * the ceiling the gateway's tus endpoint is compared with. A failed write answers 500.
 *
 * Over IPC: `ready` with the port; `stats` as the baselines.
 */
const DIR = process.env.UPLOAD_PIPE_DIR;
if (!DIR) throw new Error('UPLOAD_PIPE_DIR is required');
const dir = DIR;

/** The DiskStore's DISK_WRITE_BUFFER (server/uploads/storage.ts). */
const WRITE_BUFFER = 1024 * 1024;

const http = createServer((req, res) => {
  const name = basename(new URL(req.url ?? '/', 'http://x').pathname) || 'upload.bin';
  const out = createWriteStream(join(dir, name), { highWaterMark: WRITE_BUFFER });
  pipeline(req, out).then(
    () => {
      res.writeHead(204);
      res.end();
    },
    (err: Error) => {
      if (res.headersSent) return res.destroy();
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err.message));
    },
  );
});

answerStatsRequests();
const { port, host } = listenAddress();
http.listen(port, host, () => {
  process.send?.({ type: 'ready', port: (http.address() as AddressInfo).port });
});
