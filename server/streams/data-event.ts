import { StreamItemKeys, type StreamItem, type SubscriptionType } from '../../shared/messages/streams';
import { sendEncoded, textFrame } from '../fast-broadcast';
import type { GatewaySocket } from '../types';

/** A subscription id as it appears in a packet: its JSON text and that text's bytes, made once at subscribe time. */
export class EncodedId {
  readonly text: string;
  readonly bytes: Buffer;
  constructor(readonly id: string) {
    this.text = JSON.stringify(id);
    this.bytes = Buffer.from(this.text);
  }
}

/** What the subscribers of one namespace share: the packet before and after the subscription id. */
interface NamespaceParts {
  readonly head: string;
  readonly tail: string;
  /** The Engine.IO message type `4` + head, as bytes. */
  readonly headBytes: Buffer;
  readonly tailBytes: Buffer;
}

/**
 * One stream item's `data` event (seed 003: `{subscription_id, data: {<event|metric|...>: item,
 * subscription_type}}`), encoded once for all of its subscribers on this pod. A subscriber's packet
 * is `2<nsp,>["data",{"subscription_id":<id>,"data":<data>}]`, exactly what `socket.emit('data',
 * {subscription_id, data})` encodes, spliced from the namespace's shared head and tail and the
 * subscription's encoded id: the item is stringified once per pod, not once per subscriber, and each
 * WebSocket recipient's frame is one copy of bytes already encoded. The native streaming dialect
 * (server/compat/dialects/streaming.ts) gets the same packet and frames it its own way.
 */
export class DataEvent {
  private json?: string;
  private readonly parts = new Map<string, NamespaceParts>();

  constructor(
    private readonly type: SubscriptionType,
    private readonly item: StreamItem,
  ) {}

  /** The event's `data` object. */
  private data(): Record<string, unknown> {
    return { [StreamItemKeys[this.type]]: this.item, subscription_type: this.type };
  }

  private partsOf(nsp: string): NamespaceParts {
    let parts = this.parts.get(nsp);
    if (!parts) {
      this.json ??= JSON.stringify(this.data());
      const head = `2${nsp === '/' ? '' : `${nsp},`}["data",{"subscription_id":`;
      const tail = `,"data":${this.json}}]`;
      parts = { head, tail, headBytes: Buffer.from(`4${head}`), tailBytes: Buffer.from(tail) };
      this.parts.set(nsp, parts);
    }
    return parts;
  }

  /** Sends the event to one subscription's socket, with its id. */
  sendTo(socket: GatewaySocket, id: EncodedId): void {
    const parts = this.partsOf(socket.nsp.name);
    const frame = () => textFrame([parts.headBytes, id.bytes, parts.tailBytes]);
    sendEncoded(socket, parts.head + id.text + parts.tail, frame, () => ['data', { subscription_id: id.id, data: this.data() }]);
  }
}
