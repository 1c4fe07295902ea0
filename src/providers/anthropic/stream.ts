/**
 * The streamed `/v1/messages` reader: SSE events to {@link ChatChunk}s.
 *
 * Text and thinking deltas become chunks as they arrive; a tool call's `input_json_delta`
 * fragments are collected per content block and become one tool call, with parsed arguments,
 * when the block stops. `message_stop` yields the final chunk with the stop reason and usage.
 */
import type { ChatChunk, ToolCall, Usage } from '../../core/types.js';
import type { Logger } from '../../core/logger.js';
import type { HttpResponse, ResponseBody } from '../../http/transport.js';
import { sseFramer } from '../shared/sse-framer.js';
import { readFrames, settleBody } from '../shared/stream-body.js';
import type { SseEvent } from '../../http/sse.js';
import type { ErrorContext } from './errors.js';
import { fromStreamError, protocolError, toProviderError } from './errors.js';
import { toArguments, toDoneReason, toUsage } from './wire.js';
import type { WireUsage } from './types.js';

interface ToolBlock {
  id?: string;
  name: string;
  json: string;
  /** Input given whole in `content_block_start` (used when no delta follows). */
  initial: unknown;
}

/** State of one streamed message. */
class MessageState {
  model: string;
  text = '';
  usage: WireUsage = {};
  stopReason: string | null | undefined;
  toolCount = 0;
  readonly tools = new Map<number, ToolBlock>();
  sawStop = false;

  constructor(model: string) {
    this.model = model;
  }
}

/**
 * Streams one chat. The request is sent on the first `next()`; leaving the `for await` early
 * cancels it, or, when `message_stop` was already seen, lets the last bytes arrive so the
 * connection can be reused.
 */
export async function* streamMessages(
  open: () => Promise<HttpResponse>,
  model: string,
  ctx: ErrorContext,
  logger: Logger,
): AsyncGenerator<ChatChunk, void, undefined> {
  const res = await open();
  const body: ResponseBody = res.body;
  const state = new MessageState(model);
  const frames = readFrames(body, sseFramer(), {
    fail: (error) => toProviderError(error, ctx, state.text),
    complete: () => state.sawStop,
  });
  try {
    for await (const events of frames) {
      for (const event of events) {
        const chunk = handle(event, state, ctx, logger);
        if (chunk !== undefined) yield chunk;
        if (state.sawStop) return;
      }
    }
    // The body ended without message_stop: the answer may be cut short.
    logger.debug({ model: state.model }, 'anthropic stream ended without message_stop');
    const last: ChatChunk = { content: '', done: true, doneReason: 'incomplete', model: state.model };
    const usage = usageOf(state);
    if (usage !== undefined) last.usage = usage;
    yield last;
  } finally {
    // After message_stop, or at the end of the body, only the end of the body is missing.
    settleBody(body, state.sawStop || body.finished);
  }
}

function usageOf(state: MessageState): Usage | undefined {
  const usage = toUsage(state.usage);
  return Object.keys(usage).length > 0 ? usage : undefined;
}

function parse(event: SseEvent, ctx: ErrorContext, state: MessageState): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(event.data);
  } catch (cause) {
    throw protocolError(`a "${event.event}" event whose data is not JSON`, ctx, cause, state.text);
  }
  if (typeof value !== 'object' || value === null) {
    throw protocolError(`a "${event.event}" event whose data is not a JSON object`, ctx, undefined, state.text);
  }
  return value as Record<string, unknown>;
}

function mergeUsage(state: MessageState, usage: unknown): void {
  if (typeof usage !== 'object' || usage === null) return;
  for (const [k, v] of Object.entries(usage as Record<string, unknown>)) {
    if (typeof v === 'number') (state.usage as Record<string, number>)[k] = v;
  }
}

/** Applies one event to `state`; returns the chunk it produces, if any. */
function handle(event: SseEvent, state: MessageState, ctx: ErrorContext, logger: Logger): ChatChunk | undefined {
  switch (event.event) {
    case 'ping':
      return undefined;
    case 'message_start': {
      const data = parse(event, ctx, state);
      const message = data.message as { model?: unknown; usage?: unknown } | undefined;
      if (typeof message?.model === 'string' && message.model !== '') state.model = message.model;
      mergeUsage(state, message?.usage);
      return undefined;
    }
    case 'content_block_start': {
      const data = parse(event, ctx, state);
      const index = typeof data.index === 'number' ? data.index : -1;
      const block = data.content_block as { type?: unknown; text?: unknown; thinking?: unknown; id?: unknown; name?: unknown; input?: unknown } | undefined;
      if (block?.type === 'tool_use') {
        const tool: ToolBlock = { name: typeof block.name === 'string' ? block.name : '', json: '', initial: block.input };
        if (typeof block.id === 'string') tool.id = block.id;
        state.tools.set(index, tool);
        return undefined;
      }
      // Blocks normally start empty, but text given here is part of the answer all the same.
      if (block?.type === 'text' && typeof block.text === 'string' && block.text !== '') return textChunk(state, block.text);
      if (block?.type === 'thinking' && typeof block.thinking === 'string' && block.thinking !== '') {
        return { content: '', thinking: block.thinking, done: false, model: state.model };
      }
      return undefined;
    }
    case 'content_block_delta': {
      const data = parse(event, ctx, state);
      const delta = data.delta as { type?: unknown; text?: unknown; thinking?: unknown; partial_json?: unknown } | undefined;
      switch (delta?.type) {
        case 'text_delta':
          return typeof delta.text === 'string' && delta.text !== '' ? textChunk(state, delta.text) : undefined;
        case 'thinking_delta':
          return typeof delta.thinking === 'string' && delta.thinking !== ''
            ? { content: '', thinking: delta.thinking, done: false, model: state.model }
            : undefined;
        case 'input_json_delta': {
          const tool = state.tools.get(typeof data.index === 'number' ? data.index : -1);
          if (tool === undefined) throw protocolError('a tool input fragment for a block that is not a tool call', ctx, undefined, state.text);
          if (typeof delta.partial_json === 'string') tool.json += delta.partial_json;
          return undefined;
        }
        default:
          // signature_delta, citations_delta and whatever comes next carry nothing Omega shows.
          return undefined;
      }
    }
    case 'content_block_stop': {
      const data = parse(event, ctx, state);
      const index = typeof data.index === 'number' ? data.index : -1;
      const tool = state.tools.get(index);
      if (tool === undefined) return undefined;
      state.tools.delete(index);
      let args: Record<string, unknown>;
      if (tool.json.trim() === '') {
        args = toArguments(tool.initial);
      } else {
        let parsed: unknown;
        try {
          parsed = JSON.parse(tool.json);
        } catch (cause) {
          throw protocolError(`the input of tool call '${tool.name}' is not valid JSON`, ctx, cause, state.text);
        }
        args = toArguments(parsed);
      }
      const call: ToolCall = { name: tool.name, arguments: args, index: state.toolCount++ };
      if (tool.id !== undefined) call.id = tool.id;
      return { content: '', toolCalls: [call], done: false, model: state.model };
    }
    case 'message_delta': {
      const data = parse(event, ctx, state);
      const delta = data.delta as { stop_reason?: unknown } | undefined;
      if (typeof delta?.stop_reason === 'string') state.stopReason = delta.stop_reason;
      mergeUsage(state, data.usage);
      return undefined;
    }
    case 'message_stop': {
      state.sawStop = true;
      const last: ChatChunk = { content: '', done: true, model: state.model };
      const reason = toDoneReason(state.stopReason);
      if (reason !== undefined) last.doneReason = reason;
      const usage = usageOf(state);
      if (usage !== undefined) last.usage = usage;
      return last;
    }
    case 'error': {
      const data = parse(event, ctx, state);
      throw fromStreamError(data.error, ctx, state.text);
    }
    default:
      logger.debug({ event: event.event }, 'anthropic stream event skipped');
      return undefined;
  }
}

function textChunk(state: MessageState, text: string): ChatChunk {
  state.text += text;
  return { content: text, done: false, model: state.model };
}
