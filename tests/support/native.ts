import WebSocket from 'ws';
import type { Gateway } from '../../server/gateway';

/** A frame matcher: a `type` to match, or a predicate. */
export type FrameMatch = string | ((frame: any) => boolean);

const matches = (frame: any, match: FrameMatch | undefined): boolean =>
  match === undefined ? true : typeof match === 'string' ? frame?.type === match : match(frame);

/**
 * A native WebSocket test client. Every JSON frame received is kept, in order, until a `next` call
 * takes it, so a frame that arrives before the test asks for it is never missed.
 */
export class NativeClient {
  /** Every frame received, in order (parsed JSON; raw text when it is not JSON). */
  readonly received: any[] = [];
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly unread: any[] = [];
  private readonly waiters = new Set<{ match?: FrameMatch; resolve: (frame: any) => void }>();

  constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer) => {
      let frame: any;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        frame = data.toString();
      }
      this.received.push(frame);
      for (const waiter of this.waiters) {
        if (matches(frame, waiter.match)) {
          this.waiters.delete(waiter);
          waiter.resolve(frame);
          return;
        }
      }
      this.unread.push(frame);
    });
  }

  /** Sends a JSON frame (or a raw string / buffer as is). */
  send(frame: unknown, options: { binary?: boolean } = {}): void {
    const data = typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame);
    this.ws.send(data, { binary: options.binary ?? false });
  }

  /** The first unread frame matching `match` (waiting for it if needed); rejects after `timeoutMs`. */
  next<T = any>(match?: FrameMatch, timeoutMs = 5000): Promise<T> {
    const index = this.unread.findIndex((f) => matches(f, match));
    if (index !== -1) return Promise.resolve(this.unread.splice(index, 1)[0]);
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        match,
        resolve: (frame: any) => {
          clearTimeout(timer);
          resolve(frame);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out waiting for frame ${typeof match === 'string' ? match : 'matching predicate'}; unread: ${JSON.stringify(this.unread).slice(0, 500)}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Unread frames matching `match`, taken. */
  take(match?: FrameMatch): any[] {
    const out: any[] = [];
    for (let i = 0; i < this.unread.length; ) {
      if (matches(this.unread[i], match)) out.push(...this.unread.splice(i, 1));
      else i++;
    }
    return out;
  }

  close(): void {
    this.ws.close();
  }
}

const opened = new Set<WebSocket>();

export const wsUrl = (gateway: Gateway | number, path: string, query: Record<string, string> = {}): string => {
  const qs = new URLSearchParams(query).toString();
  return `ws://127.0.0.1:${typeof gateway === 'number' ? gateway : gateway.port}${path}${qs ? `?${qs}` : ''}`;
};

/** Opens a native WebSocket; resolves once the upgrade completed (the server may still close it). */
export async function openNative(url: string, options: WebSocket.ClientOptions = {}): Promise<NativeClient> {
  const ws = new WebSocket(url, options);
  opened.add(ws);
  const client = new NativeClient(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return client;
}

/** The close code and reason of a connection the server refuses, asserting it sent no frame first. */
export async function refusedNative(url: string, options: WebSocket.ClientOptions = {}): Promise<{ code: number; reason: string; frames: any[] }> {
  const client = await openNative(url, options);
  const closed = await client.closed;
  return { ...closed, frames: client.received };
}

/** The native endpoints of the public contract. */
export const Endpoints = {
  workspace: '/api/v1/ws',
  agents: '/ws',
  calculations: (token: string) => `/api/websockets/ws/${encodeURIComponent(token)}`,
  streaming: '/api/streaming/ws',
  chat: '/api/chat/ws',
  analytics: '/api/analytics/ws',
  collaboration: '/api/collaboration/ws',
} as const;

/** A seed 002 client (`?token=`), ready once its ping is answered (frames before it are dispatched in order). */
export async function connectWorkspace(gateway: Gateway | number, token: string): Promise<NativeClient> {
  const client = await openNative(wsUrl(gateway, Endpoints.workspace, { token }));
  client.send({ type: 'ping' });
  await client.next('pong');
  return client;
}

/** A seed 001 client, ready at `connection_established`. */
export async function connectAgents(gateway: Gateway | number, token: string): Promise<NativeClient> {
  const client = await openNative(wsUrl(gateway, Endpoints.agents, { token }));
  await client.next('connection_established');
  return client;
}

/** A seed 003 client, ready at `auth_success`. */
export async function connectStreaming(gateway: Gateway | number, token: string): Promise<NativeClient> {
  const client = await openNative(wsUrl(gateway, Endpoints.streaming));
  client.send({ type: 'auth', data: { token } });
  await client.next('auth_success');
  return client;
}

/** A seed 004 client with `?token=&contextId=`, ready once its ping is answered. */
export async function connectLearning(gateway: Gateway | number, path: string, token: string, contextId?: string): Promise<NativeClient> {
  const client = await openNative(wsUrl(gateway, path, contextId === undefined ? { token } : { token, contextId }));
  client.send({ type: 'ping' });
  await client.next('pong');
  return client;
}

/** A seed 000 client (token in the path), ready once its ping is answered. */
export async function connectCalculations(gateway: Gateway | number, token: string): Promise<NativeClient> {
  const client = await openNative(wsUrl(gateway, Endpoints.calculations(token)));
  client.send({ type: 'ping' });
  await client.next('pong');
  return client;
}

/** Closes every native client a test opened (afterEach). */
export function closeNatives(): void {
  for (const ws of opened) ws.terminate();
  opened.clear();
}
