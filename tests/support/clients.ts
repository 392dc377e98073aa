import { io as ioV4, type Socket } from 'socket.io-client';
// socket.io-client 2.x, installed under an alias, for the legacy (Engine.IO 3) protocol.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const ioV2: (url: string, opts?: Record<string, unknown>) => LegacySocket = require('socket.io-client-v2');

/** The part of a socket.io-client 2.x socket the tests use. */
export interface LegacySocket {
  connected: boolean;
  id: string;
  on(event: string, fn: (...args: any[]) => void): LegacySocket;
  once(event: string, fn: (...args: any[]) => void): LegacySocket;
  off(event: string, fn?: (...args: any[]) => void): LegacySocket;
  emit(event: string, ...args: unknown[]): LegacySocket;
  close(): void;
}

export type AnySocket = Socket | LegacySocket;
const opened = new Set<AnySocket>();

/** A socket.io-client v4 connection to `namespace`, resolved once connected (rejects on connect_error). */
export async function connectV4(baseUrl: string, token: string | undefined, options: { namespace?: string; transports?: string[]; query?: Record<string, string>; extraHeaders?: Record<string, string> } = {}): Promise<Socket> {
  const socket = ioV4(`${baseUrl}${options.namespace ?? ''}`, {
    auth: token === undefined ? {} : { token },
    transports: options.transports ?? ['websocket'],
    query: options.query,
    extraHeaders: options.extraHeaders,
    reconnection: false,
    forceNew: true,
  });
  opened.add(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err) => reject(err));
  });
  return socket;
}

/** The connect_error a v4 connection attempt ends with (fails the test if it connects). */
export async function refusedV4(baseUrl: string, token: string | undefined, options: Parameters<typeof connectV4>[2] = {}): Promise<Error & { data?: { code: string; message: string } }> {
  try {
    const socket = await connectV4(baseUrl, token, options);
    socket.close();
  } catch (err) {
    return err as Error & { data?: { code: string; message: string } };
  }
  throw new Error('connection was accepted');
}

/** A socket.io-client v2 (legacy) connection; the token travels in the query string. */
export async function connectV2(baseUrl: string, token: string, options: { namespace?: string; transports?: string[] } = {}): Promise<LegacySocket> {
  const socket = ioV2(`${baseUrl}${options.namespace ?? ''}`, {
    query: { token },
    transports: options.transports ?? ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  opened.add(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', (err: unknown) => reject(Object.assign(new Error('v2 connect refused'), { data: err })));
    socket.once('connect_error', (err: Error) => reject(err));
  });
  return socket;
}

/** Resolves with the first `event` whose payload passes `match`; rejects after `timeoutMs`. */
export function waitFor<T = any>(socket: AnySocket, event: string, match: (payload: T) => boolean = () => true, timeoutMs = 5000): Promise<T> {
  return waitForArgs(socket, event, (payload: T) => match(payload), timeoutMs).then((args) => args[0] as T);
}

/** Like waitFor, for an event with several arguments: resolves with all of them. */
export function waitForArgs(socket: AnySocket, event: string, match: (...args: any[]) => boolean, timeoutMs = 5000): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`timed out waiting for ${event}`));
    }, timeoutMs);
    const listener = (...args: any[]) => {
      if (!match(...args)) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve(args);
    };
    socket.on(event, listener);
  });
}

/** Emits with an ack callback and resolves with the ack. */
export function request<T = any>(socket: AnySocket, event: string, payload?: unknown, timeoutMs = 5000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${event}`)), timeoutMs);
    socket.emit(event, payload, (response: T) => {
      clearTimeout(timer);
      resolve(response);
    });
  });
}

/** Collects every payload of `event` into an array as it arrives. */
export function collect<T = any>(socket: AnySocket, event: string): T[] {
  const seen: T[] = [];
  socket.on(event, (payload: T) => seen.push(payload));
  return seen;
}

export function closeClients(): void {
  for (const s of opened) s.close();
  opened.clear();
}
