import { z } from 'zod';
import { defineClientMessages, defineServerMessages, message } from './define';

/**
 * AI streaming. Seed 002 section 6: `ai_request` → `ai_event` (`ai_start`, `ai_progress`,
 * `ai_complete`, `ai_error`). Seed 001's agent platform: `user_message` / `agent_request` →
 * `agent_started`, `agent_thinking`, `partial_result`, `tool_executing`, `agent_completed`, with
 * failures as its `error` envelope. Beyond the seeds: `ai_cancel` / `agent_cancel`. Served on `/ai`.
 * The ack of a request means "started"; everything after goes, as events, to every socket of the
 * requesting user on every pod.
 */
const RequestId = z.string().min(1).max(128).regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');
const Correlation = z.union([z.string().min(1).max(128), z.number().finite()]);
/** An A1-style range (`A1:Z100`). */
export const CellRange = z.string().regex(/^[A-Za-z]{1,3}[1-9][0-9]{0,6}:[A-Za-z]{1,3}[1-9][0-9]{0,6}$/, 'must be a range like A1:Z100');
const Prompt = z.string().min(1).max(32_000);

const Started = z.object({ request_id: z.string(), status: z.literal('started') });

export const aiClientMessages = defineClientMessages('/ai', {
  ai_request: message({
    schema: z.object({
      /** Absent: the gateway makes one (and returns it in the ack). */
      request_id: RequestId.optional(),
      query: Prompt,
      sheet_id: z.string().min(1).max(128).optional(),
      context: z.object({ table_range: CellRange.optional() }).catchall(z.unknown()).optional(),
    }),
    rate: 'request',
    ack: Started,
  }),
  ai_cancel: message({ schema: z.object({ request_id: RequestId }), rate: 'control', ack: z.object({ request_id: z.string(), cancelled: z.boolean() }) }),
  user_message: message({
    schema: z.object({ content: Prompt, correlation_id: Correlation.optional(), request_id: RequestId.optional() }),
    rate: 'request',
    ack: Started,
  }),
  agent_request: message({
    schema: z
      .object({
        agent: z.string().min(1).max(64).optional(),
        content: Prompt.optional(),
        query: Prompt.optional(),
        correlation_id: Correlation.optional(),
        request_id: RequestId.optional(),
      })
      .refine((r) => r.content !== undefined || r.query !== undefined, { message: 'content or query is required', path: ['content'] }),
    rate: 'request',
    ack: Started,
  }),
  agent_cancel: message({
    schema: z
      .object({ request_id: RequestId.optional(), correlation_id: Correlation.optional() })
      .refine((r) => r.request_id !== undefined || r.correlation_id !== undefined, { message: 'request_id or correlation_id is required', path: ['request_id'] }),
    rate: 'control',
    ack: z.object({ request_id: z.string().nullable(), cancelled: z.boolean() }),
  }),
});

export const AiEventTypes = ['ai_start', 'ai_progress', 'ai_complete', 'ai_error'] as const;

const ToolCallDelta = z.object({ index: z.number().int(), id: z.string().optional(), name: z.string().optional(), arguments: z.string().optional() });
const ToolCall = z.object({ id: z.string(), name: z.string(), arguments: z.string() });
const Usage = z.object({ prompt_tokens: z.number(), completion_tokens: z.number(), total_tokens: z.number() });
const AgentRef = { request_id: z.string(), correlation_id: Correlation.optional() };

export const aiServerMessages = defineServerMessages('/ai', {
  ai_event: z.object({
    event_type: z.enum(AiEventTypes),
    request_id: z.string(),
    user_id: z.string(),
    data: z.record(z.unknown()),
    timestamp: z.string(),
  }),
  agent_started: z.object({ ...AgentRef, agent: z.string(), user_id: z.string() }),
  agent_thinking: z.object({ ...AgentRef, delta: z.string() }),
  partial_result: z.object({ ...AgentRef, delta: z.string() }),
  tool_executing: z.object({ ...AgentRef, tool_calls: z.array(ToolCallDelta) }),
  agent_completed: z.object({
    ...AgentRef,
    content: z.string(),
    reasoning: z.string().optional(),
    tool_calls: z.array(ToolCall),
    finish_reason: z.string().nullable(),
    usage: Usage.nullable(),
    processing_time: z.number(),
  }),
});
