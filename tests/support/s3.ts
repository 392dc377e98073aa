import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { readdir, readFile, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import S3rver from 's3rver';

export interface LocalS3 {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * A local S3-compatible server: s3rver (objects, multipart uploads, on disk under `directory`),
 * plus the one request of the multipart API it lacks and @tus/s3-store needs to resume an upload:
 * ListParts (`GET /<bucket>/<key>?uploadId=`), answered from the part files s3rver itself wrote.
 * Every other request is s3rver's own.
 */
export async function startLocalS3(directory: string, bucket: string): Promise<LocalS3> {
  const s3 = new S3rver({ silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
  await s3.configureBuckets();
  const koa = s3.callback();
  const uploads = s3.store.getResourcePath(bucket, undefined, 'uploads');

  const listParts = async (req: IncomingMessage, res: ServerResponse, uploadId: string) => {
    const dir = join(uploads, uploadId);
    const names = await readdir(dir).catch(() => undefined);
    if (!names) {
      res.writeHead(404, { 'content-type': 'application/xml' });
      return res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>');
    }
    const numbers = names.filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
    const parts = await Promise.all(
      numbers.map(async (n) => {
        const [info, md5] = await Promise.all([stat(join(dir, String(n))), readFile(join(dir, `${n}.md5`), 'utf8')]);
        return `<Part><PartNumber>${n}</PartNumber><LastModified>${info.mtime.toISOString()}</LastModified><ETag>"${md5}"</ETag><Size>${info.size}</Size></Part>`;
      }),
    );
    const key = decodeURIComponent(new URL(req.url!, 'http://s3').pathname.split('/').slice(2).join('/'));
    res.writeHead(200, { 'content-type': 'application/xml' });
    res.end(
      `<?xml version="1.0" encoding="UTF-8"?><ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${bucket}</Bucket><Key>${key}</Key>` +
        `<UploadId>${uploadId}</UploadId><PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>${numbers.at(-1) ?? 0}</NextPartNumberMarker>` +
        `<MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated>${parts.join('')}</ListPartsResult>`,
    );
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://s3');
    const uploadId = url.searchParams.get('uploadId');
    if (req.method === 'GET' && uploadId && /^[A-Za-z0-9_-]+$/.test(uploadId)) {
      listParts(req, res, uploadId).catch(() => {
        res.writeHead(500);
        res.end();
      });
      return;
    }
    void koa(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
