import { ErrorCodes, GatewayError } from '../../shared/errors';

/** Deepest object/array nesting a native frame may have; deeper ones are refused before parsing. */
export const MAX_FRAME_DEPTH = 32;

export type ParsedFrame =
  | { ok: true; value: unknown }
  | { ok: false; error: GatewayError; /** close the connection with this code after the error frame */ close?: number };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The nesting depth of a JSON text, stopping as soon as it passes `max` (strings are skipped, so
 * brackets inside them do not count). Linear and allocation-free.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      depth--;
    }
  }
  return false;
}

/**
 * One incoming WebSocket message to a JSON value. Text frames were UTF-8-checked by `ws` (it closes
 * with 1007 otherwise); binary frames are accepted when they hold UTF-8 JSON. Too large: the error
 * and close 1009. Not JSON: INVALID_JSON, the connection stays open.
 */
export function parseFrame(data: Buffer, isBinary: boolean, maxBytes: number): ParsedFrame {
  if (data.length > maxBytes) {
    return {
      ok: false,
      error: new GatewayError(ErrorCodes.MESSAGE_TOO_LARGE, `Message of ${data.length} bytes exceeds the limit of ${maxBytes}`, { limit: maxBytes }),
      close: 1009,
    };
  }
  let text: string;
  if (isBinary) {
    try {
      text = utf8.decode(data);
    } catch {
      return { ok: false, error: new GatewayError(ErrorCodes.INVALID_JSON, 'Malformed message: binary frame is not UTF-8 JSON') };
    }
  } else {
    text = data.toString('utf8');
  }
  if (jsonDepthExceeds(text, MAX_FRAME_DEPTH)) {
    return { ok: false, error: new GatewayError(ErrorCodes.INVALID_MESSAGE, `Message nests deeper than ${MAX_FRAME_DEPTH} levels`) };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, error: new GatewayError(ErrorCodes.INVALID_JSON) };
  }
}

export { isRecord } from '../../shared/records';

/** A close reason fits the 123 bytes a close frame allows. */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= 123) return text;
  let cut = text.slice(0, 120);
  while (Buffer.byteLength(cut) > 120) cut = cut.slice(0, -1);
  return `${cut}...`;
}
