/**
 * The part of a WebSocket the native client uses: the browser's WebSocket and the `ws` package's
 * both have it (their `on*` properties and `data` as a string for text frames).
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drop the connection at once, without a closing handshake (a dead peer never answers one). */
  terminate?(): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** A WebSocket class: the browser's global one, or `ws`'s (`import WebSocket from 'ws'`). */
export type WebSocketConstructor = new (url: string) => unknown;

export const OPEN = 1;

let nodeWebSocket: Promise<WebSocketConstructor> | undefined;

/**
 * The WebSocket class to use: the one given, else the global one (browsers, Node 22+), else the
 * `ws` package, loaded only then (the specifier is not a literal so that browser bundlers leave it out).
 */
export function resolveWebSocket(injected?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (injected) return Promise.resolve(injected);
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return Promise.resolve(global);
  const specifier = 'ws';
  nodeWebSocket ??= import(specifier).then(
    (mod: { default?: WebSocketConstructor; WebSocket?: WebSocketConstructor }) => (mod.default ?? mod.WebSocket) as WebSocketConstructor,
    () => Promise.reject(new Error('No WebSocket available: pass options.WebSocket (e.g. the `ws` package) or install ws')),
  );
  return nodeWebSocket;
}

const decoder = typeof TextDecoder !== 'undefined' ? new TextDecoder() : undefined;

/** A frame's text, whether it came as a string, an ArrayBuffer or bytes. */
export function frameText(data: unknown): string | undefined {
  if (typeof data === 'string') return data;
  if (!decoder) return undefined;
  if (data instanceof ArrayBuffer) return decoder.decode(new Uint8Array(data));
  if (ArrayBuffer.isView(data)) return decoder.decode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return undefined;
}
