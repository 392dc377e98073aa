import type { ServerMessageType, ServerPayload } from '../../shared/catalogue';
import type { GatewayError } from '../../shared/errors';
import { AllNamespaces } from '../../shared/namespaces';
import { userRoom } from '../../shared/rooms';
import { isoNow } from '../clock';
import type { RoomBroadcaster } from '../rooms';
import type { GatewayServer } from '../types';
import type { StreamSink } from './streams';

/** Where a user's stream events go: every socket of the user, on every pod (a second tab sees the same stream). */
export interface UserChannel {
  emit<T extends ServerMessageType>(type: T, payload: ServerPayload<T>): void;
  /** The `error` event (seed 001's error envelope on `/ws`), with the request's references. */
  error(err: GatewayError, messageType: string, refs: Record<string, unknown>): void;
}

export function userChannel(io: GatewayServer, rooms: RoomBroadcaster, userId: string): UserChannel {
  const room = userRoom(userId);
  return {
    emit: (type, payload) => rooms.toInternal(room, type, payload),
    error(err, messageType, refs) {
      const payload = { ...err.details, ...refs, type: 'error' as const, code: err.code, error: err.message, message_type: messageType, timestamp: isoNow() };
      for (const ns of AllNamespaces) if (ns === '/' || ns === '/ai') io.of(ns).to(room).emit('error', payload);
    },
  };
}

/**
 * Seed 002's `ai_event`s: `ai_start {query, sheet_id}`, `ai_progress {progress, status, delta}`
 * (`progress` counts the characters generated so far: the upstream does not say how many will
 * come; `reasoning` and `tool_calls` join `delta` when the upstream streams them),
 * `ai_complete {result, processing_time, finish_reason, usage, ...}`, `ai_error {code, error}`.
 */
export function aiEventSink(channel: UserChannel, userId: string, requestId: string, start: { query: string; sheet_id?: string }): StreamSink {
  let produced = 0;
  const event = (event_type: ServerPayload<'ai_event'>['event_type'], data: Record<string, unknown>) =>
    channel.emit('ai_event', { event_type, request_id: requestId, user_id: userId, data, timestamp: isoNow() });
  return {
    started: () => event('ai_start', { query: start.query, sheet_id: start.sheet_id ?? null }),
    delta(d) {
      produced += d.content.length;
      const status = d.toolCalls.length ? 'calling tools' : d.content ? 'generating' : 'thinking';
      // Built in place (no spreads): this runs for every delta of every stream.
      const data: Record<string, unknown> = { progress: produced, status, delta: d.content };
      if (d.reasoning) data.reasoning = d.reasoning;
      if (d.toolCalls.length) data.tool_calls = d.toolCalls;
      event('ai_progress', data);
    },
    completed: (r, seconds) =>
      event('ai_complete', {
        result: r.content,
        processing_time: Math.round(seconds * 1000) / 1000,
        finish_reason: r.finishReason,
        usage: r.usage ?? null,
        ...(r.reasoning ? { reasoning: r.reasoning } : {}),
        ...(r.toolCalls.length ? { tool_calls: r.toolCalls } : {}),
      }),
    failed: (err) => event('ai_error', { ...err.details, code: err.code, error: err.message }),
  };
}

/**
 * Seed 001's agent events, each with the request id and the request's correlation id:
 * `agent_started`, `agent_thinking` (reasoning deltas), `partial_result` (content deltas),
 * `tool_executing` (tool-call deltas), `agent_completed` (content, finish reason, token usage);
 * a failure is the `error` envelope (on `/ws`: `recoverable` and `help`, the correlation id).
 */
export function agentSink(channel: UserChannel, userId: string, agent: string, messageType: string, requestId: string, correlation?: string | number): StreamSink {
  // The same for every event of the request: built once, spread into each.
  const refs = { request_id: requestId, ...(correlation !== undefined ? { correlation_id: correlation } : {}) };
  return {
    started: () => channel.emit('agent_started', { ...refs, agent, user_id: userId }),
    delta(d) {
      if (d.reasoning) channel.emit('agent_thinking', { ...refs, delta: d.reasoning });
      if (d.toolCalls.length) channel.emit('tool_executing', { ...refs, tool_calls: [...d.toolCalls] });
      if (d.content) channel.emit('partial_result', { ...refs, delta: d.content });
    },
    completed: (r, seconds) =>
      channel.emit('agent_completed', {
        ...refs,
        content: r.content,
        ...(r.reasoning ? { reasoning: r.reasoning } : {}),
        tool_calls: r.toolCalls,
        finish_reason: r.finishReason,
        usage: r.usage ?? null,
        processing_time: Math.round(seconds * 1000) / 1000,
      }),
    failed: (err) => channel.error(err, messageType, refs),
  };
}
