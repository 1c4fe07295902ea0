/**
 * The Anthropic Messages front end: `/v1/messages` with SSE events `message_start` …
 * `message_stop`, system prompts, tools and `tool_result`, thinking blocks, errors in
 * Anthropic's shape. The official SDK authenticates with `x-api-key`, which the server accepts
 * as a token.
 *
 * A conversation is named with the `X-Omega-Conversation` header or with
 * `metadata.user_id = "omega-conversation:<id>"`.
 */
import { randomBytes } from 'node:crypto';
import type { ChatMessage, ChatRequest, GenerationOptions, ToolCall } from '../core/types.js';
import { HOST_HEADER } from './fleet-relay.js';
import { HttpError } from './errors.js';
import { anthropicErrorType } from './errors.js';
import type { Exchange } from './exchange.js';
import type { StreamWriter } from './exchange.js';
import { readJsonObject, sendJson } from './exchange.js';
import { routedChat } from './ollama-api.js';
import { requireModel, resolveModel } from './routing.js';
import type { ServerContext } from './server.js';
import { relayStream } from './stream-relay.js';

const SSE = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' };
const CONVERSATION_PREFIX = 'omega-conversation:';

function id(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('hex')}`;
}

type Block = Record<string, unknown>;

function blocksOf(content: unknown, where: string): Block[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw new HttpError(400, `${where}: content must be a string or an array of content blocks.`, 'invalid_request', 'messages');
  return content as Block[];
}

function resultText(content: unknown): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return (content as Block[])
      .filter((b) => b.type === 'text')
      .map((b) => String(b.text ?? ''))
      .join('\n');
  }
  return JSON.stringify(content);
}

/** Anthropic messages (and `system`) as contract messages. */
export function anthropicMessages(system: unknown, raw: unknown): ChatMessage[] {
  const out: ChatMessage[] = [];
  if (typeof system === 'string' && system !== '') out.push({ role: 'system', content: system });
  else if (Array.isArray(system)) {
    const text = (system as Block[]).map((b) => String(b.text ?? '')).join('\n');
    if (text !== '') out.push({ role: 'system', content: text });
  }
  if (!Array.isArray(raw) || raw.length === 0) throw new HttpError(400, 'messages: at least one message is required', 'invalid_request', 'messages');
  const toolNames = new Map<string, string>();
  raw.forEach((m: Record<string, unknown>, i) => {
    const where = `messages.${i}`;
    if (m?.role !== 'user' && m?.role !== 'assistant') throw new HttpError(400, `${where}.role: must be "user" or "assistant"`, 'invalid_request', 'messages');
    const blocks = blocksOf(m.content, where);
    if (m.role === 'assistant') {
      const msg: ChatMessage = { role: 'assistant', content: '' };
      const texts: string[] = [];
      const calls: ToolCall[] = [];
      for (const b of blocks) {
        if (b.type === 'text') texts.push(String(b.text ?? ''));
        else if (b.type === 'thinking') msg.thinking = String(b.thinking ?? '');
        else if (b.type === 'tool_use') {
          const call: ToolCall = { id: String(b.id ?? ''), name: String(b.name ?? ''), arguments: (b.input ?? {}) as Record<string, unknown> };
          toolNames.set(call.id as string, call.name);
          calls.push(call);
        }
      }
      msg.content = texts.join('');
      if (calls.length > 0) msg.toolCalls = calls;
      out.push(msg);
      return;
    }
    const texts: string[] = [];
    const images: string[] = [];
    for (const b of blocks) {
      if (b.type === 'text') texts.push(String(b.text ?? ''));
      else if (b.type === 'image') {
        const source = b.source as { type?: string; data?: string } | undefined;
        if (source?.type !== 'base64' || typeof source.data !== 'string') {
          throw new HttpError(400, `${where}: images must be base64 sources; URL images are not fetched.`, 'invalid_request', 'messages');
        }
        images.push(source.data);
      } else if (b.type === 'tool_result') {
        const callId = String(b.tool_use_id ?? '');
        const msg: ChatMessage = { role: 'tool', content: resultText(b.content), toolCallId: callId };
        const name = toolNames.get(callId);
        if (name !== undefined) msg.toolName = name;
        out.push(msg);
      }
    }
    if (texts.length > 0 || images.length > 0) {
      const msg: ChatMessage = { role: 'user', content: texts.join('\n') };
      if (images.length > 0) msg.images = images;
      out.push(msg);
    }
  });
  return out;
}

function stopReason(doneReason: string | undefined, toolUse: boolean): string {
  if (toolUse) return 'tool_use';
  if (doneReason === 'length') return 'max_tokens';
  return 'end_turn';
}

function event(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Registers the Anthropic routes. */
export function registerAnthropic(ctx: ServerContext): void {
  ctx.route('POST', '/v1/messages', 'anthropic', async (ex: Exchange) => {
    const body = await readJsonObject(ex);
    const name = requireModel(body.model, 'model: Field required');
    if (typeof body.max_tokens !== 'number' || body.max_tokens < 1) throw new HttpError(400, 'max_tokens: Field required (a positive integer)', 'invalid_request', 'max_tokens');
    const route = resolveModel(name, ctx.config.aliases);
    ex.model = route.model ?? name;
    const request: ChatRequest = { messages: anthropicMessages(body.system, body.messages) };
    if (route.model !== undefined) request.model = route.model;
    const options: GenerationOptions = { num_predict: body.max_tokens };
    if (typeof body.temperature === 'number') options.temperature = body.temperature;
    if (typeof body.top_p === 'number') options.top_p = body.top_p;
    if (typeof body.top_k === 'number') options.top_k = body.top_k;
    if (Array.isArray(body.stop_sequences)) options.stop = body.stop_sequences.map(String);
    request.options = options;
    const thinking = body.thinking as { type?: string } | undefined;
    if (thinking?.type === 'enabled') request.think = true;
    else if (thinking?.type === 'disabled') request.think = false;
    if (Array.isArray(body.tools) && body.tools.length > 0) {
      request.tools = (body.tools as { name?: string; description?: string; input_schema?: Record<string, unknown> }[]).map((t, i) => {
        if (typeof t.name !== 'string') throw new HttpError(400, `tools.${i}.name: Field required`, 'invalid_request', 'tools');
        const fn: { name: string; description?: string; parameters?: Record<string, unknown> } = { name: t.name };
        if (t.description !== undefined) fn.description = t.description;
        if (t.input_schema !== undefined) fn.parameters = t.input_schema;
        return { type: 'function' as const, function: fn };
      });
    }
    const userId = (body.metadata as { user_id?: unknown } | undefined)?.user_id;
    const fromMeta = typeof userId === 'string' && userId.startsWith(CONVERSATION_PREFIX) ? userId.slice(CONVERSATION_PREFIX.length) : undefined;
    const routed = routedChat(ex, request, route, 'serve:anthropic', fromMeta);
    const messageId = id('msg_');

    if (body.stream !== true) {
      const a = await ctx.gateway.chat(routed, { signal: ex.signal });
      ctx.record(ex, a);
      const content: Block[] = [];
      if (a.thinking !== undefined) content.push({ type: 'thinking', thinking: a.thinking, signature: '' });
      if (a.text !== '' || a.toolCalls === undefined) content.push({ type: 'text', text: a.text });
      for (const c of a.toolCalls ?? []) content.push({ type: 'tool_use', id: c.id ?? id('toolu_'), name: c.name, input: c.arguments });
      const headers: Record<string, string> = { 'x-omega-provider': a.metadata.providerUsed };
      if (a.metadata.host !== undefined) headers[HOST_HEADER] = a.metadata.host;
      if (a.metadata.fallbackFrom !== undefined) headers['x-omega-fallback-from'] = a.metadata.fallbackFrom.join(',');
      sendJson(
        ex,
        200,
        {
          id: messageId,
          type: 'message',
          role: 'assistant',
          model: name,
          content,
          stop_reason: stopReason(a.metadata.doneReason, a.toolCalls !== undefined),
          stop_sequence: null,
          usage: { input_tokens: a.metadata.promptTokens ?? 0, output_tokens: a.metadata.completionTokens ?? 0 },
        },
        headers,
      );
      return;
    }

    /** The open content block: its index and type. */
    let open: { index: number; type: 'text' | 'thinking' } | undefined;
    let nextIndex = 0;
    let toolUse = false;
    const closeBlock = (w: StreamWriter): void => {
      if (open === undefined) return;
      w.write(event('content_block_stop', { type: 'content_block_stop', index: open.index }));
      open = undefined;
    };
    const ensureBlock = (w: StreamWriter, type: 'text' | 'thinking'): number => {
      if (open?.type === type) return open.index;
      closeBlock(w);
      open = { index: nextIndex++, type };
      const block = type === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' };
      w.write(event('content_block_start', { type: 'content_block_start', index: open.index, content_block: block }));
      return open.index;
    };
    const outcome = await relayStream(ctx, ex, ctx.gateway.chatStream(routed, { signal: ex.signal }), {
      headers: SSE,
      start: (w) => {
        w.write(
          event('message_start', {
            type: 'message_start',
            message: { id: messageId, type: 'message', role: 'assistant', model: name, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } },
          }),
        );
        w.write(event('ping', { type: 'ping' }));
      },
      chunk: (w, chunk) => {
        if (chunk.thinking !== undefined && chunk.thinking !== '') {
          const index = ensureBlock(w, 'thinking');
          w.write(event('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: chunk.thinking } }));
        }
        if (chunk.content !== '') {
          const index = ensureBlock(w, 'text');
          w.write(`event: content_block_delta\ndata: {"type":"content_block_delta","index":${index},"delta":{"type":"text_delta","text":${JSON.stringify(chunk.content)}}}\n\n`);
        }
        for (const call of chunk.toolCalls ?? []) {
          closeBlock(w);
          toolUse = true;
          const index = nextIndex++;
          w.write(event('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: call.id ?? id('toolu_'), name: call.name, input: {} } }));
          w.write(event('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(call.arguments) } }));
          w.write(event('content_block_stop', { type: 'content_block_stop', index }));
        }
      },
      error: (w, e) => w.write(event('error', { type: 'error', error: { type: anthropicErrorType(e.status), message: e.message } })),
    });
    if (!outcome.ok) return;
    const { writer, final } = outcome;
    if (writer === undefined) throw new HttpError(502, 'The provider ended the answer without any content.', 'protocol');
    closeBlock(writer);
    writer.write(
      event('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: stopReason(final?.doneReason, toolUse), stop_sequence: null },
        usage: { input_tokens: final?.usage?.promptTokens ?? 0, output_tokens: final?.usage?.completionTokens ?? 0 },
      }),
    );
    writer.end(event('message_stop', { type: 'message_stop' }));
  });
}
