/**
 * The OpenAI-compatible front end: `/v1/chat/completions` (SSE with `[DONE]`, usage in the last
 * chunk on `stream_options.include_usage`, tools and tool-call deltas, `response_format`,
 * `reasoning_effort`), `/v1/models`, `/v1/embeddings`, errors in OpenAI's shape.
 *
 * A conversation is named with the `X-Omega-Conversation` header or, for clients that cannot
 * set headers, `metadata.omega_conversation` in the body.
 */
import { randomBytes } from 'node:crypto';
import type { ChatMessage, ChatRequest, GenerationOptions, ToolCall, ToolDefinition } from '../core/types.js';
import { HOST_HEADER } from './fleet-relay.js';
import { HttpError } from './errors.js';
import { StreamWriter, readJsonObject, sendJson } from './exchange.js';
import { listReachable } from './models.js';
import { routedChat } from './ollama-api.js';
import { requireModel, resolveModel } from './routing.js';
import type { ServerContext } from './server.js';
import { relayStream } from './stream-relay.js';

const SSE = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' };

function id(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('hex')}`;
}

/** Text of an OpenAI message `content`: a string or an array of parts (images collected apart). */
function contentOf(content: unknown, images: string[]): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw new HttpError(400, 'messages[].content must be a string or an array of content parts.', 'invalid_request', 'messages');
  const texts: string[] = [];
  for (const part of content as Record<string, unknown>[]) {
    if (part?.type === 'text' && typeof part.text === 'string') texts.push(part.text);
    else if (part?.type === 'image_url') {
      const url = (part.image_url as { url?: unknown } | undefined)?.url;
      if (typeof url !== 'string' || !url.startsWith('data:')) {
        throw new HttpError(400, 'Images must be sent inline as data: URLs (base64); remote image URLs are not fetched.', 'invalid_request', 'messages');
      }
      images.push(url.slice(url.indexOf(',') + 1));
    }
  }
  return texts.join('\n');
}

/** OpenAI chat messages as contract messages (tool results get the tool's name from its call). */
export function openaiMessages(raw: unknown): ChatMessage[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new HttpError(400, `[] is too short - 'messages'`, 'invalid_request', 'messages');
  const names = new Map<string, string>();
  return raw.map((m: Record<string, unknown>) => {
    if (typeof m !== 'object' || m === null) throw new HttpError(400, 'Every message must be an object.', 'invalid_request', 'messages');
    const role = m.role === 'developer' ? 'system' : m.role;
    if (role !== 'system' && role !== 'user' && role !== 'assistant' && role !== 'tool') {
      throw new HttpError(400, `Invalid role ${JSON.stringify(m.role)}; use system, developer, user, assistant or tool.`, 'invalid_request', 'messages');
    }
    const images: string[] = [];
    const msg: ChatMessage = { role, content: contentOf(m.content, images) };
    if (images.length > 0) msg.images = images;
    if (typeof m.reasoning === 'string' && m.reasoning !== '') msg.thinking = m.reasoning;
    if (Array.isArray(m.tool_calls) && m.tool_calls.length > 0) {
      msg.toolCalls = (m.tool_calls as { id?: string; function?: { name?: string; arguments?: string } }[]).map((c, index) => {
        let args: Record<string, unknown> = {};
        try {
          const parsed: unknown = JSON.parse(c.function?.arguments ?? '{}');
          if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) args = parsed as Record<string, unknown>;
        } catch {
          throw new HttpError(400, `tool_calls[${index}].function.arguments is not valid JSON.`, 'invalid_request', 'messages');
        }
        const call: ToolCall = { name: String(c.function?.name ?? ''), arguments: args };
        if (typeof c.id === 'string') {
          call.id = c.id;
          names.set(c.id, call.name);
        }
        return call;
      });
    }
    if (role === 'tool' && typeof m.tool_call_id === 'string') {
      msg.toolCallId = m.tool_call_id;
      const name = names.get(m.tool_call_id);
      if (name !== undefined) msg.toolName = name;
    }
    if (role === 'tool' && typeof m.name === 'string') msg.toolName = m.name;
    return msg;
  });
}

/** Generation settings of a Chat Completions body. */
function generation(body: Record<string, unknown>, req: ChatRequest): void {
  const o: GenerationOptions = {};
  const num = (key: string): number | undefined => (typeof body[key] === 'number' ? (body[key] as number) : undefined);
  const maxTokens = num('max_completion_tokens') ?? num('max_tokens');
  if (maxTokens !== undefined) o.num_predict = maxTokens;
  for (const [from, to] of [
    ['temperature', 'temperature'],
    ['top_p', 'top_p'],
    ['seed', 'seed'],
    ['frequency_penalty', 'frequency_penalty'],
    ['presence_penalty', 'presence_penalty'],
  ] as const) {
    const v = num(from);
    if (v !== undefined) o[to] = v;
  }
  if (typeof body.stop === 'string') o.stop = [body.stop];
  else if (Array.isArray(body.stop)) o.stop = body.stop.map(String);
  if (Object.keys(o).length > 0) req.options = o;
  const rf = body.response_format as { type?: string; json_schema?: { schema?: Record<string, unknown> } } | undefined;
  if (rf?.type === 'json_object') req.format = 'json';
  else if (rf?.type === 'json_schema') {
    if (typeof rf.json_schema?.schema !== 'object') throw new HttpError(400, 'response_format.json_schema.schema must be a JSON Schema object.', 'invalid_request', 'response_format');
    req.format = rf.json_schema.schema;
  }
  const effort = (body.reasoning as { effort?: unknown } | undefined)?.effort ?? body.reasoning_effort;
  if (effort === 'none') req.think = false;
  else if (effort === 'low' || effort === 'medium' || effort === 'high') req.think = effort;
  else if (effort !== undefined) throw new HttpError(400, `reasoning effort must be none, low, medium or high, not ${JSON.stringify(effort)}.`, 'invalid_request', 'reasoning_effort');
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    req.tools = (body.tools as { type?: string; function?: ToolDefinition['function'] }[]).map((t, i) => {
      if (t.type !== 'function' || typeof t.function?.name !== 'string') throw new HttpError(400, `tools[${i}] must be {"type":"function","function":{"name":...}}.`, 'invalid_request', 'tools');
      return { type: 'function', function: t.function };
    });
  }
}

function finishReason(doneReason: string | undefined, toolCalls: boolean): string {
  if (toolCalls) return 'tool_calls';
  if (doneReason === 'length') return 'length';
  return 'stop';
}

function toolCallsOut(calls: ToolCall[], offset: number, withIndex: boolean): unknown[] {
  return calls.map((c, i) => {
    const out: Record<string, unknown> = {};
    if (withIndex) out.index = offset + i;
    out.id = c.id ?? id('call_');
    out.type = 'function';
    out.function = { name: c.name, arguments: JSON.stringify(c.arguments) };
    return out;
  });
}

function usageOut(prompt: number | undefined, completion: number | undefined): Record<string, number> {
  const p = prompt ?? 0;
  const c = completion ?? 0;
  return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c };
}

/** Registers the OpenAI routes. */
export function registerOpenAI(ctx: ServerContext): void {
  ctx.route('POST', '/v1/chat/completions', 'openai', async (ex) => {
    const body = await readJsonObject(ex);
    const name = requireModel(body.model, 'you must provide a model parameter');
    const route = resolveModel(name, ctx.config.aliases);
    ex.model = route.model ?? name;
    const request: ChatRequest = { messages: openaiMessages(body.messages) };
    if (route.model !== undefined) request.model = route.model;
    generation(body, request);
    const routed = routedChat(ex, request, route, 'serve:openai', (body.metadata as { omega_conversation?: unknown } | undefined)?.omega_conversation);
    const created = Math.floor(Date.now() / 1000);
    const completionId = id('chatcmpl-');
    if (body.stream !== true) {
      const a = await ctx.gateway.chat(routed, { signal: ex.signal });
      ctx.record(ex, a);
      const message: Record<string, unknown> = { role: 'assistant', content: a.text };
      if (a.thinking !== undefined) message.reasoning = a.thinking;
      if (a.toolCalls !== undefined) message.tool_calls = toolCallsOut(a.toolCalls, 0, false);
      const headers: Record<string, string> = { 'x-omega-provider': a.metadata.providerUsed };
      if (a.metadata.host !== undefined) headers[HOST_HEADER] = a.metadata.host;
      if (a.metadata.fallbackFrom !== undefined) headers['x-omega-fallback-from'] = a.metadata.fallbackFrom.join(',');
      sendJson(
        ex,
        200,
        {
          id: completionId,
          object: 'chat.completion',
          created,
          model: name,
          system_fingerprint: 'omega',
          choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(a.metadata.doneReason, a.toolCalls !== undefined) }],
          usage: usageOut(a.metadata.promptTokens, a.metadata.completionTokens),
        },
        headers,
      );
      return;
    }
    const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
    // The fixed part of every chunk, serialised once.
    const head = `data: {"id":"${completionId}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(name)},"system_fingerprint":"omega","choices":[`;
    let toolIndex = 0;
    const outcome = await relayStream(ctx, ex, ctx.gateway.chatStream(routed, { signal: ex.signal }), {
      headers: SSE,
      start: (w) => w.write(`${head}{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n`),
      chunk: (w, chunk) => {
        if (chunk.content !== '' && chunk.thinking === undefined && chunk.toolCalls === undefined) {
          w.write(`${head}{"index":0,"delta":{"content":${JSON.stringify(chunk.content)}},"logprobs":null,"finish_reason":null}]}\n\n`);
        } else if (chunk.content !== '' || (chunk.thinking ?? '') !== '' || (chunk.toolCalls?.length ?? 0) > 0) {
          const delta: Record<string, unknown> = {};
          if (chunk.content !== '') delta.content = chunk.content;
          if (chunk.thinking !== undefined && chunk.thinking !== '') delta.reasoning = chunk.thinking;
          if (chunk.toolCalls !== undefined && chunk.toolCalls.length > 0) {
            delta.tool_calls = toolCallsOut(chunk.toolCalls, toolIndex, true);
            toolIndex += chunk.toolCalls.length;
          }
          w.write(`${head}${JSON.stringify({ index: 0, delta, logprobs: null, finish_reason: null })}]}\n\n`);
        }
      },
      error: (w, e) =>
        w.write(`event: error\ndata: ${JSON.stringify({ error: { message: e.message, type: e.status >= 500 ? 'api_error' : 'invalid_request_error', param: null, code: e.code } })}\n\n`),
    });
    if (!outcome.ok) return;
    const final = outcome.final;
    const writer = outcome.writer ?? new StreamWriter(ex, 200, SSE);
    writer.write(`${head}{"index":0,"delta":{},"logprobs":null,"finish_reason":"${finishReason(final?.doneReason, toolIndex > 0)}"}]}\n\n`);
    if (includeUsage) {
      const u = usageOut(final?.usage?.promptTokens, final?.usage?.completionTokens);
      writer.write(`${head}],"usage":${JSON.stringify(u)}}\n\n`);
    }
    writer.end('data: [DONE]\n\n');
  });

  ctx.route('GET', '/v1/models', 'openai', async (ex) => {
    const models = await listReachable(ctx, ex.signal);
    const created = Math.floor(Date.now() / 1000);
    sendJson(ex, 200, { object: 'list', data: models.map((m) => ({ id: m.id, object: 'model', created, owned_by: m.provider })) });
  });

  ctx.route('GET', '/v1/models/:model', 'openai', async (ex) => {
    const wanted = decodeURIComponent(ex.path.slice('/v1/models/'.length));
    const models = await listReachable(ctx, ex.signal);
    const m = models.find((x) => x.id === wanted);
    if (m === undefined) throw new HttpError(404, `The model '${wanted}' does not exist`, 'model_not_found', 'model');
    sendJson(ex, 200, { id: m.id, object: 'model', created: Math.floor(Date.now() / 1000), owned_by: m.provider });
  });

  ctx.route('POST', '/v1/embeddings', 'openai', async (ex) => {
    const body = await readJsonObject(ex);
    const name = requireModel(body.model, 'you must provide a model parameter');
    const route = resolveModel(name, ctx.config.aliases);
    const toOllama = route.provider === 'ollama' || (route.provider === undefined && ctx.gateway.defaultProvider === 'ollama');
    if (!toOllama || (ctx.upstream === undefined && ctx.fleet === undefined)) {
      throw new HttpError(400, `"${name}" does not support embeddings here; only the Ollama provider's models embed.`, 'unsupported', 'model');
    }
    const input = body.input;
    const ok = typeof input === 'string' || (Array.isArray(input) && input.every((s) => typeof s === 'string'));
    if (!ok) throw new HttpError(400, 'input must be a string or an array of strings (token arrays are not supported).', 'invalid_request', 'input');
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') throw new HttpError(400, 'encoding_format must be float or base64.', 'invalid_request', 'encoding_format');
    ex.provider = 'ollama';
    ex.model = route.model ?? name;
    const embedBody: Record<string, unknown> = { model: route.model ?? name, input };
    if (typeof body.dimensions === 'number') embedBody.dimensions = body.dimensions;
    type Embedded = { embeddings: number[][]; prompt_eval_count?: number };
    const headers: Record<string, string> = {};
    let res: Embedded;
    if (ctx.fleet !== undefined) {
      const routed = await ctx.fleet.modelJson<Embedded>(ex, route.model ?? name, '/api/embed', embedBody);
      res = routed.value;
      headers[HOST_HEADER] = routed.host;
    } else if (ctx.upstream !== undefined) {
      res = await ctx.upstream.json<Embedded>('POST', '/api/embed', embedBody, ex.signal);
    } else {
      return;
    }
    const tokens = res.prompt_eval_count ?? 0;
    ex.tokensIn = tokens;
    sendJson(ex, 200, {
      object: 'list',
      data: res.embeddings.map((e, index) => ({
        object: 'embedding',
        index,
        embedding: format === 'base64' ? Buffer.from(new Float32Array(e).buffer).toString('base64') : e,
      })),
      model: name,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    }, headers);
  });
}
