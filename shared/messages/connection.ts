import { z } from 'zod';
import { FeatureNamespaces } from '../namespaces';
import { defineClientMessages, defineServerMessages, message } from './define';

/**
 * The connection itself, on every namespace: a live connection's token expires (`exp`); shortly
 * before, the gateway sends `token_expiring`; the client answers `refresh_token {token}` with a
 * fresh token for the same user, or is disconnected when the token expires (native clients: close
 * 1008 "Token expired"). Native seeds 001, 003 and 004 refresh with their own `auth` message.
 */
export const connectionClientMessages = defineClientMessages(FeatureNamespaces, {
  refresh_token: message({
    schema: z.object({ token: z.string().min(1).max(8192) }),
    rate: 'control',
    ack: z.object({ user_id: z.string(), expires_at: z.string().nullable() }),
    maxBytes: 16384,
  }),
});

export const connectionServerMessages = defineServerMessages(FeatureNamespaces, {
  token_expiring: z.object({ expires_at: z.string(), expires_in_ms: z.number().int() }),
});
