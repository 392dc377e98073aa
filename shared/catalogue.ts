import { z } from 'zod';
import type { ErrorBody, ErrorCode } from './errors';
import { aiClientMessages, aiServerMessages } from './messages/ai';
import { calculationClientMessages, calculationServerMessages } from './messages/calculations';
import { connectionClientMessages, connectionServerMessages } from './messages/connection';
import type { EventDef, MessageDef } from './messages/define';
import { cellClientMessages, cellServerMessages } from './messages/cells';
import { chatClientMessages, chatServerMessages } from './messages/chat';
import { collaborationClientMessages, collaborationServerMessages } from './messages/collaboration';
import { presenceClientMessages, presenceServerMessages, roomClientMessages, roomServerMessages } from './messages/presence';
import { notificationClientMessages, notificationServerMessages } from './messages/notifications';
import { streamClientMessages, streamServerMessages } from './messages/streams';
import { uploadClientMessages, uploadRelayClientMessages, uploadServerMessages, uploadStartServerMessages } from './messages/uploads';
import { ROOT_NAMESPACE, type NamespaceName } from './namespaces';

/**
 * The message catalogue: every message type a client may send (clientMessages) and every event the
 * server emits (serverMessages), each declared once with its schema and feature namespace. The event
 * name is the seed's `type`; the payload is the seed's fields without `type`.
 */
export const clientMessages = {
  ...connectionClientMessages,
  ...roomClientMessages,
  ...presenceClientMessages,
  ...cellClientMessages,
  ...collaborationClientMessages,
  ...chatClientMessages,
  ...streamClientMessages,
  ...calculationClientMessages,
  ...aiClientMessages,
  ...notificationClientMessages,
  ...uploadClientMessages,
  ...uploadRelayClientMessages,
} as const;

export const serverMessages = {
  ...connectionServerMessages,
  ...roomServerMessages,
  ...presenceServerMessages,
  ...cellServerMessages,
  ...collaborationServerMessages,
  ...chatServerMessages,
  ...streamServerMessages,
  ...calculationServerMessages,
  ...aiServerMessages,
  ...notificationServerMessages,
  ...uploadServerMessages,
  ...uploadStartServerMessages,
} as const;

export type ClientMessageType = keyof typeof clientMessages;
export type ServerMessageType = keyof typeof serverMessages;
/** A payload as the handler receives it (after validation and defaults). */
export type ClientPayload<T extends ClientMessageType> = z.output<(typeof clientMessages)[T]['schema']>;
/** A payload as a client may send it (fields with defaults may be left out). */
export type ClientInput<T extends ClientMessageType> = z.input<(typeof clientMessages)[T]['schema']>;
export type ServerPayload<T extends ServerMessageType> = z.infer<(typeof serverMessages)[T]['schema']>;
/** The fields of a type's successful ack (beyond `ok: true`). */
export type AckFields<T extends ClientMessageType> = z.infer<(typeof clientMessages)[T]['ack']>;

/** The `error` event of seed 002, sent when a failing message had no ack callback. */
export interface ErrorEvent {
  type: 'error';
  code: ErrorCode;
  error: string;
  timestamp: string;
  [detail: string]: unknown;
}

/** What an ack callback receives: typed per message type by the catalogue's `ack` schema. */
export type AckResponse<T extends ClientMessageType = ClientMessageType> = ({ ok: true } & AckFields<T>) | { ok: false; error: ErrorBody };
export type AckCallback<T extends ClientMessageType = ClientMessageType> = (response: AckResponse<T>) => void;

/** Socket.IO event maps derived from the catalogue, used as the Server and client generics. */
export type ClientToServerEvents = {
  [K in ClientMessageType]: (payload: ClientInput<K>, ack?: AckCallback<K>) => void;
};
export type ServerToClientEvents = {
  [K in ServerMessageType]: (payload: ServerPayload<K>) => void;
} & { error: (payload: ErrorEvent) => void };

const lookup: ReadonlyMap<string, MessageDef> = new Map(Object.entries(clientMessages));

/** The definition of a client message type, or undefined when the type is unknown. */
export function clientMessage(type: string): MessageDef | undefined {
  return lookup.get(type);
}

/** Whether a namespace accepts a message type: `/` accepts all, a feature namespace its own. */
export function namespaceAccepts(namespace: NamespaceName, def: MessageDef): boolean {
  return namespace === ROOT_NAMESPACE || (def.namespaces as readonly string[]).includes(namespace);
}

const serverTargets = new Map<string, readonly NamespaceName[]>(
  Object.entries(serverMessages as Record<string, EventDef>).map(([type, def]) => [type, Object.freeze([ROOT_NAMESPACE, ...def.namespaces])]),
);

/** Whether a string names a server event of the catalogue. */
export function isServerMessage(type: string): type is ServerMessageType {
  return serverTargets.has(type);
}

/**
 * Problems with the catalogue itself (a `reply` naming no server event): checked at start-up,
 * with the handler registry, by the dispatcher.
 */
export function catalogueProblems(): string[] {
  const problems: string[] = [];
  for (const [type, def] of lookup) {
    if (def.reply !== undefined && !serverTargets.has(def.reply)) problems.push(`${type}: reply ${def.reply} is not a server event`);
  }
  return problems;
}

/** The namespaces that receive a server event: `/` and the event's feature namespaces. */
export function namespacesOf(type: ServerMessageType): readonly NamespaceName[] {
  return serverTargets.get(type)!;
}
