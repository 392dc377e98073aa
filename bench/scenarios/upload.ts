import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { round, sleep } from '../lib/stats';
import { BENCH_LIMITS, startGateway } from '../servers/targets';
import { ensureTime, type Ctx } from './context';
import { guarded } from './fanout';

/**
 * Scenario 9 (uploads, issue 11): one file of `uploadMb` MB (a 1 MiB random block repeated),
 * written by a plain `fs.createWriteStream` in this process, then sent through the gateway's tus
 * endpoint (POST, then one PATCH streamed from this process with back-pressure) to its disk store
 * on the same file system. Throughput is bytes / wall time from the first byte to the last write's
 * end (the 204); the gateway's RSS is sampled every 50 ms from /proc during the PATCH, and its
 * peak growth over the RSS just before is the figure (the bytes must stream, never be buffered).
 * The stored file's sha256 is checked against the sent bytes.
 */
export const UPLOAD_FS = 'fs.createWriteStream';
export const UPLOAD_GATEWAY = 'gateway (tus PATCH)';

const BLOCK = 1024 * 1024;

/** Writes `blocks` copies of `block` to `write` as fast as it drains. */
async function pump(block: Buffer, blocks: number, write: (chunk: Buffer) => boolean, waitDrain: () => Promise<void>): Promise<void> {
  for (let i = 0; i < blocks; i++) if (!write(block)) await waitDrain();
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function plainWrite(dir: string, block: Buffer, blocks: number): Promise<number> {
  const path = join(dir, 'plain.bin');
  const out = createWriteStream(path);
  const t0 = process.hrtime.bigint();
  await pump(block, blocks, (c) => out.write(c), () => new Promise((r) => out.once('drain', r)));
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  rmSync(path, { force: true });
  return seconds;
}

/** One PATCH carrying the whole file; resolves with its status and the seconds it took. */
function patch(url: string, token: string, block: Buffer, blocks: number): Promise<{ status: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = request(url, {
      method: 'PATCH',
      headers: {
        'tus-resumable': '1.0.0',
        authorization: `Bearer ${token}`,
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
        'content-length': String(block.length * blocks),
      },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, seconds: Number(process.hrtime.bigint() - t0) / 1e9 }));
    });
    req.on('error', reject);
    pump(block, blocks, (c) => req.write(c), () => new Promise((r) => req.once('drain', r))).then(() => req.end(), reject);
  });
}

export async function uploadScenario(ctx: Ctx): Promise<void> {
  const { plan, results } = ctx;
  const blocks = plan.uploadMb;
  const block = randomBytes(BLOCK);
  const expected = createHash('sha256');
  for (let i = 0; i < blocks; i++) expected.update(block);
  const expectedSha = expected.digest('hex');
  const token = jwt.sign({ sub: 'bench-uploader' }, ctx.start.secret, { algorithm: 'HS256', expiresIn: 3600 });

  for (let r = 0; r < plan.reps; r++) {
    const dir = mkdtempSync(join(tmpdir(), 'rg-bench-upload-'));
    try {
      await guarded(ctx, `upload ${blocks} MB rep ${r + 1}`, async () => {
        ensureTime(ctx, 30_000, `upload ${blocks} MB`);
        const plainSeconds = await plainWrite(dir, block, blocks);
        results.add('upload', UPLOAD_FS, blocks, { mb_per_s: round(blocks / plainSeconds, 0) });

        const uploads = join(dir, 'uploads');
        const target = await startGateway({ ...ctx.start, gatewayEnv: { ...BENCH_LIMITS, UPLOAD_DIR: uploads, UPLOAD_MAX_BYTES: String(4 * 1024 ** 3) } });
        try {
          const base = target.urls[0];
          const created = await fetch(`${base}/api/v1/uploads`, {
            method: 'POST',
            headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}`, 'upload-length': String(blocks * BLOCK), 'upload-metadata': `filename ${Buffer.from('bench.bin').toString('base64')}` },
          });
          if (created.status !== 201) throw new Error(`tus POST answered ${created.status}: ${await created.text()}`);
          const location = created.headers.get('location')!;
          await sleep(300);
          const before = await target.sample();
          let peak = before.rssBytes;
          let sampling = true;
          const sampler = (async () => {
            while (sampling) {
              peak = Math.max(peak, (await target.sample()).rssBytes);
              await sleep(50);
            }
          })();
          const sent = await patch(`${base}${location}`, token, block, blocks);
          sampling = false;
          await sampler;
          const after = await target.sample();
          if (sent.status !== 204) throw new Error(`tus PATCH answered ${sent.status}`);
          const stored = await fileSha256(join(uploads, location.split('/').pop()!));
          if (stored !== expectedSha) throw new Error('the stored file differs from the bytes sent');
          const figures = {
            mb_per_s: round(blocks / sent.seconds, 0),
            rss_growth_mb: round((peak - before.rssBytes) / 2 ** 20, 1),
            server_cpu_util: round((after.cpuUs - before.cpuUs) / 1e6 / sent.seconds, 2),
          };
          results.add('upload', UPLOAD_GATEWAY, blocks, figures);
          ctx.log(
            `    upload ${blocks} MB: fs.createWriteStream ${round(blocks / plainSeconds, 0)} MB/s; gateway ${figures.mb_per_s} MB/s ` +
              `(${round(blocks / sent.seconds / (blocks / plainSeconds), 2)}x), RSS +${figures.rss_growth_mb} MB at peak ` +
              `(${round(before.rssBytes / 2 ** 20)} MB before), ${figures.server_cpu_util} cores; sha256 verified`,
          );
        } finally {
          await target.stop();
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
