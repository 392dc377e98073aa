import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerStatsRequests, listenAddress } from './ipc-stats';

/**
 * The AI scenario's baseline (bench/scenarios/ai.ts): the plainest relay of an upstream's
 * server-sent events to HTTP clients, with Node's `http` and nothing else. Per client request
 * (`GET /stream?tokens=<n>`), it POSTs the same streaming Chat Completions request the gateway
 * sends to the same upstream (`UPSTREAM_URL`, a keep-alive agent, as the gateway's upstream client has) and
 * writes each complete SSE event (up to a blank line) to its client as soon as it has arrived,
 * without parsing it. A client going away aborts the upstream request.
 */

const upstream = new URL(`${(process.env.UPSTREAM_URL ?? '').replace(/\/+$/, '')}/chat/completions`);
const agent = new Agent({ keepAlive: true, maxSockets: Infinity, keepAliveMsecs: 30_000 });
const SSE_HEADERS = { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive' };

function relay(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://relay');
  if (url.pathname !== '/stream') {
    res.writeHead(404).end();
    return;
  }
  const tokens = Number(url.searchParams.get('tokens') ?? '') || undefined;
  const body = JSON.stringify({
    model: 'bench-model',
    messages: [{ role: 'user', content: tokens ? `bench tokens=${tokens}` : 'bench' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  const up = request(
    upstream,
    { method: 'POST', agent, headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', 'Content-Length': Buffer.byteLength(body) } },
    (upRes) => {
      if (upRes.statusCode !== 200) {
        res.writeHead(502, { 'Content-Type': 'text/plain' }).end(`upstream answered ${upRes.statusCode}`);
        upRes.resume();
        return;
      }
      res.socket?.setNoDelay(true);
      res.writeHead(200, SSE_HEADERS);
      res.flushHeaders();
      upRes.setEncoding('utf8');
      let pending = '';
      upRes.on('data', (text: string) => {
        pending += text;
        const end = pending.lastIndexOf('\n\n');
        if (end < 0) return;
        res.write(pending.slice(0, end + 2));
        pending = pending.slice(end + 2);
      });
      upRes.on('end', () => res.end(pending));
      upRes.on('error', () => res.destroy());
    },
  );
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' }).end('upstream unreachable');
    else res.destroy();
  });
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  up.end(body);
}

const server = createServer({ noDelay: true }, relay);
server.keepAliveTimeout = 30_000;
answerStatsRequests();
const { port, host } = listenAddress();
server.listen(port, host, () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});
