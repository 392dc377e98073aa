import { AiStreams } from '../ai/streams';
import { buildMessages } from '../ai/prompt';
import { agentSink, aiEventSink, userChannel } from '../ai/sinks';
import { createChatCompletionsClient } from '../upstreams/chat-completions';
import type { Feature } from './context';

/** The agent a seed 001 request names when it names none. */
const DEFAULT_AGENT = 'assistant';

/**
 * AI streaming (README: AI streaming) from an OpenAI-compatible Chat Completions upstream:
 * seed 002's `ai_request` → `ai_event`s, seed 001's `user_message` / `agent_request` → agent
 * events, and `ai_cancel` / `agent_cancel`. The ack says the stream started (with its request id);
 * its events go to every socket of the user on every pod. Streams run on the pod that received
 * the request (server/ai/streams.ts): cancel travels to it; the user's last socket going, or
 * shutdown, ends them.
 */
export const registerAi: Feature = (ctx) => {
  const { ai } = ctx.config;
  const client = ai.upstreamUrl
    ? createChatCompletionsClient({ baseUrl: ai.upstreamUrl, apiKey: ai.apiKey, model: ai.model, timeoutMs: ai.timeoutMs, logger: ctx.logger })
    : undefined;
  const streams = new AiStreams(ctx.io, ai, client, ctx.logger, ctx.clustered);

  ctx.handle('ai_request', async ({ request_id, query, sheet_id, context }, call) => {
    const { userId } = call.principal;
    const range = context?.table_range;
    const messages = await buildMessages(ctx.stores.cells, ai.systemPrompt, query, sheet_id ? { sheetId: sheet_id, range } : undefined);
    const channel = userChannel(ctx.io, ctx.rooms, userId);
    const id = streams.start({ userId, requestId: request_id, messages, sink: (rid) => aiEventSink(channel, userId, rid, { query, sheet_id }) });
    return { request_id: id, status: 'started' as const };
  });

  const startAgent = async (type: 'user_message' | 'agent_request', text: string, call: Parameters<Parameters<typeof ctx.handle>[1]>[1], agent: string, requestId?: string, correlation?: string | number) => {
    const { userId } = call.principal;
    const messages = await buildMessages(ctx.stores.cells, ai.systemPrompt, text);
    const channel = userChannel(ctx.io, ctx.rooms, userId);
    const id = streams.start({ userId, requestId, correlation, messages, sink: (rid) => agentSink(channel, userId, agent, type, rid, correlation) });
    return { request_id: id, status: 'started' as const };
  };

  ctx.handle('user_message', ({ content, request_id, correlation_id }, call) => startAgent('user_message', content, call, DEFAULT_AGENT, request_id, correlation_id));

  ctx.handle('agent_request', ({ agent, content, query, request_id, correlation_id }, call) =>
    startAgent('agent_request', (content ?? query)!, call, agent ?? DEFAULT_AGENT, request_id, correlation_id),
  );

  ctx.handle('ai_cancel', ({ request_id }, call) => ({ request_id, cancelled: streams.cancel(call.principal.userId, request_id) }));

  ctx.handle('agent_cancel', ({ request_id, correlation_id }, call) => ({
    request_id: request_id ?? null,
    cancelled: streams.cancel(call.principal.userId, request_id, correlation_id),
  }));

  ctx.onDisconnect((socket) => streams.socketGone(socket.data.principal.userId, socket.id));
  ctx.onDrain((timeoutMs) => streams.drain(timeoutMs));
  // After the drain has ended every stream: the upstream's pooled connections close with the pod.
  return () => client?.close();
};
