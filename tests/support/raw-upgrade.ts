import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/** A WebSocket upgrade request written by hand, and what the server sends back, chunk by chunk. */
export interface RawUpgrade {
  socket: Socket;
  /** Each `data` chunk received, in order. */
  chunks: Buffer[];
  /** Resolves when the server (or the test) closes the connection. */
  closed: Promise<unknown>;
  /** Resolves with everything received once `test` holds for it. */
  until(test: (received: Buffer) => boolean): Promise<Buffer>;
}

/** Opens a TCP connection to 127.0.0.1:`port` and sends one upgrade request for `path`; `headers` add to or replace the usual ones. */
export async function rawUpgrade(port: number, path: string, headers: Record<string, string> = {}): Promise<RawUpgrade> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = once(socket, 'close');
  const all: Record<string, string> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  socket.write(`GET ${path} HTTP/1.1\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  const until = async (test: (received: Buffer) => boolean): Promise<Buffer> => {
    while (!test(Buffer.concat(chunks))) await once(socket, 'data');
    return Buffer.concat(chunks);
  };
  return { socket, chunks, closed, until };
}
