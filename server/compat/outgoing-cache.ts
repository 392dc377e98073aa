import type { Dialect } from './dialect';
import { decodeServerPacket, type ServerPacket } from './packets';
import { PreparedFrame, type OutgoingFrame } from './transport';

interface Entry {
  readonly encoded: string;
  readonly packet: ServerPacket;
  readonly frames: Map<Dialect, OutgoingFrame | undefined>;
}

/**
 * A broadcast reaches every recipient's transport with the same encoded packet and the same
 * options object: this cache decodes it once and encodes it once per dialect, so fanning out to a
 * room of native clients costs one JSON parse and one frame per dialect, not one per client.
 * Entries live as long as the broadcast's options object (a WeakMap key).
 */
export class OutgoingCache {
  private readonly entries = new WeakMap<object, Entry>();

  private entry(encoded: string, options: object | undefined): Entry {
    const hit = options && this.entries.get(options);
    if (hit && hit.encoded === encoded) return hit;
    const entry: Entry = { encoded, packet: decodeServerPacket(encoded), frames: new Map() };
    if (options) this.entries.set(options, entry);
    return entry;
  }

  /** The decoded packet. */
  packet(encoded: string, options: object | undefined): ServerPacket {
    return this.entry(encoded, options).packet;
  }

  /**
   * The dialect's frame for an EVENT packet, encoded once per broadcast and dialect; a frame that
   * can be shared (the packet came with an options object) is also framed once.
   */
  eventFrame(encoded: string, options: object | undefined, dialect: Dialect, event: string, payload: unknown): OutgoingFrame | undefined {
    const { frames } = this.entry(encoded, options);
    if (frames.has(dialect)) return frames.get(dialect);
    const text = dialect.encodeEvent(event, payload);
    const frame = text !== undefined && options ? new PreparedFrame(text) : text;
    frames.set(dialect, frame);
    return frame;
  }
}
