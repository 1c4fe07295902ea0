/**
 * The Ollama-native front end: Ollama's own API (v0.9.6 shapes), close enough to the byte that
 * the real `ollama` CLI, ollama-js and Open WebUI work against it.
 *
 * Chat and generation go through the gateway (any provider, fallback, memory, audit). The
 * endpoints that describe an Ollama server itself (`/api/show`, `/api/ps`, `/api/pull`, embeddings)
 * are relayed byte for byte to the Ollama provider; for other providers `/api/show` is built
 * from what the provider reports.
 */
import { randomUUID } from 'node:crypto';
import type { ChatChunk, ChatMessage, ChatRequest, GenerationOptions, ThinkSetting, ToolCall, ToolDefinition } from '../core/types.js';
import { HttpError } from './errors.js';
import { HOST_HEADER } from './fleet-relay.js';
import type { Exchange } from './exchange.js';
import { StreamWriter, readJsonObject, sendJson, sendText } from './exchange.js';
import type { RoutedChat } from './gateway-adapter.js';
import { listReachable, tagsEntry } from './models.js';
import { relayGeneration } from './ollama-relay.js';
import { resolveModel } from './routing.js';
import type { Route } from './routing.js';
import type { ServerContext } from './server.js';
import { relayStream } from './stream-relay.js';

/** Header naming a conversation whose history Omega keeps. */
export const CONVERSATION_HEADER = 'x-omega-conversation';

const NDJSON = { 'content-type': 'application/x-ndjson' };

let stampMs = 0;
let stamp = '';
/** `created_at`, recomputed at most once a millisecond (it is written on every chunk). */
function now(): string {
  const ms = Date.now();
  if (ms !== stampMs) {
    stampMs = ms;
    stamp = new Date(ms).toISOString();
  }
  return stamp;
}

/** The conversation id a request names, if any. */
export function conversationOf(ex: Exchange, fromBody?: unknown): string | undefined {
  const header = ex.req.headers[CONVERSATION_HEADER];
  if (typeof header === 'string' && header.trim() !== '') return header.trim().slice(0, 200);
  if (typeof fromBody === 'string' && fromBody.trim() !== '') return fromBody.trim().slice(0, 200);
  return undefined;
}

/** True when `route` ends at the Ollama provider (one host or a fleet). */
function toOllama(ctx: ServerContext, route: Route): boolean {
  return (ctx.upstream !== undefined || ctx.fleet !== undefined) && (route.provider === 'ollama' || (route.provider === undefined && ctx.gateway.defaultProvider === 'ollama'));
}

function str(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new HttpError(400, `json: cannot unmarshal ${typeof value} into Go struct field ${field} of type string`, 'bad_request', field);
  return value;
}

function toolCallsIn(raw: unknown): ToolCall[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) return undefined;
  return raw.map((c: { id?: unknown; function?: { name?: unknown; arguments?: unknown; index?: unknown } }) => {
    const fn = c.function ?? {};
    const args = typeof fn.arguments === 'string' ? (JSON.parse(fn.arguments) as Record<string, unknown>) : ((fn.arguments ?? {}) as Record<string, unknown>);
    const call: ToolCall = { name: String(fn.name ?? ''), arguments: args };
    if (typeof c.id === 'string') call.id = c.id;
    if (typeof fn.index === 'number') call.index = fn.index;
    return call;
  });
}

/** Ollama wire messages as contract messages. */
export function messagesIn(raw: unknown): ChatMessage[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new HttpError(400, 'json: cannot unmarshal into Go struct field ChatRequest.messages of type []api.Message', 'bad_request', 'messages');
  return raw.map((m: Record<string, unknown>) => {
    if (typeof m !== 'object' || m === null) throw new HttpError(400, 'every message must be an object', 'bad_request', 'messages');
    const role = (str(m.role, 'Message.role') ?? 'user').toLowerCase();
    if (!['system', 'user', 'assistant', 'tool'].includes(role)) throw new HttpError(400, `invalid role "${role}"; use system, user, assistant or tool`, 'bad_request', 'messages');
    const msg: ChatMessage = { role: role as ChatMessage['role'], content: str(m.content, 'Message.content') ?? '' };
    if (Array.isArray(m.images) && m.images.length > 0) msg.images = m.images.map(String);
    const thinking = str(m.thinking, 'Message.thinking');
    if (thinking !== undefined && thinking !== '') msg.thinking = thinking;
    const calls = toolCallsIn(m.tool_calls);
    if (calls !== undefined) msg.toolCalls = calls;
    const toolName = str(m.tool_name, 'Message.tool_name');
    if (toolName !== undefined && toolName !== '') msg.toolName = toolName;
    const toolCallId = str(m.tool_call_id, 'Message.tool_call_id');
    if (toolCallId !== undefined && toolCallId !== '') msg.toolCallId = toolCallId;
    return msg;
  });
}

/** The common request fields (`format`, `think`, `options`, `keep_alive`, `tools`) onto `req`. */
function commonFields(body: Record<string, unknown>, req: ChatRequest): void {
  const format = body.format;
  if (format === 'json' || (typeof format === 'object' && format !== null && !Array.isArray(format))) req.format = format as ChatRequest['format'];
  else if (format !== undefined && format !== null && format !== '') {
    throw new HttpError(400, `invalid format: ${JSON.stringify(JSON.stringify(format))}; expected "json" or a valid JSON Schema object`, 'bad_request', 'format');
  }
  const think = body.think;
  if (typeof think === 'boolean' || think === 'low' || think === 'medium' || think === 'high') req.think = think as ThinkSetting;
  else if (think !== undefined && think !== null) throw new HttpError(400, `invalid think value: ${JSON.stringify(think)} (must be "high", "medium", "low", true, or false)`, 'bad_request', 'think');
  if (body.options !== undefined && body.options !== null) {
    if (typeof body.options !== 'object' || Array.isArray(body.options)) throw new HttpError(400, 'options must be an object', 'bad_request', 'options');
    req.options = body.options as GenerationOptions;
  }
  const keepAlive = body.keep_alive;
  if (typeof keepAlive === 'string' || typeof keepAlive === 'number') req.keepAlive = keepAlive;
  else if (keepAlive !== undefined && keepAlive !== null) throw new HttpError(400, `Unsupported type: '${typeof keepAlive}'`, 'bad_request', 'keep_alive');
  if (Array.isArray(body.tools) && body.tools.length > 0) req.tools = body.tools as ToolDefinition[];
}

function toolCallsOut(calls: ToolCall[]): unknown[] {
  return calls.map((c) => {
    const fn: Record<string, unknown> = {};
    if (c.index !== undefined && c.index !== 0) fn.index = c.index;
    fn.name = c.name;
    fn.arguments = c.arguments;
    return c.id === undefined ? { function: fn } : { id: c.id, function: fn };
  });
}

/** Ollama's metric fields (nanoseconds) from a final chunk. */
function metricsOut(chunk: Pick<ChatChunk, 'usage' | 'timings'>, out: Record<string, unknown>): void {
  const t = chunk.timings;
  const u = chunk.usage;
  const ns = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : Math.round(ms * 1e6));
  const put = (key: string, value: number | undefined): void => {
    if (value !== undefined && value !== 0) out[key] = value;
  };
  put('total_duration', ns(t?.totalMs));
  put('load_duration', ns(t?.loadMs));
  put('prompt_eval_count', u?.promptTokens);
  put('prompt_eval_duration', ns(t?.promptEvalMs));
  put('eval_count', u?.completionTokens);
  put('eval_duration', ns(t?.evalMs));
}

type Kind = 'chat' | 'generate';

/** One NDJSON line of a streamed answer. */
function chunkLine(kind: Kind, modelJson: string, chunk: ChatChunk): string {
  if (!chunk.done && chunk.thinking === undefined && chunk.toolCalls === undefined) {
    // The hot path: a plain text delta, assembled without building an object.
    return kind === 'chat'
      ? `{"model":${modelJson},"created_at":"${now()}","message":{"role":"assistant","content":${JSON.stringify(chunk.content)}},"done":false}\n`
      : `{"model":${modelJson},"created_at":"${now()}","response":${JSON.stringify(chunk.content)},"done":false}\n`;
  }
  const out: Record<string, unknown> = { model: JSON.parse(modelJson) as string, created_at: now() };
  if (kind === 'chat') {
    const message: Record<string, unknown> = { role: 'assistant', content: chunk.content };
    if (chunk.thinking !== undefined && chunk.thinking !== '') message.thinking = chunk.thinking;
    if (chunk.toolCalls !== undefined && chunk.toolCalls.length > 0) message.tool_calls = toolCallsOut(chunk.toolCalls);
    out.message = message;
  } else {
    out.response = chunk.content;
    if (chunk.thinking !== undefined && chunk.thinking !== '') out.thinking = chunk.thinking;
  }
  if (chunk.done) {
    const reason = chunk.doneReason;
    if (reason !== undefined && reason !== 'incomplete' && reason !== '') out.done_reason = reason;
    out.done = true;
    metricsOut(chunk, out);
  } else {
    out.done = false;
  }
  return `${JSON.stringify(out)}\n`;
}

/** Runs a routed chat and answers in Ollama's chat or generate shape, streamed or not. */
async function answer(ctx: ServerContext, ex: Exchange, kind: Kind, model: string, routed: RoutedChat, stream: boolean): Promise<void> {
  if (!stream) {
    const a = await ctx.gateway.chat(routed, { signal: ex.signal });
    ctx.record(ex, a);
    const meta = a.metadata;
    const out: Record<string, unknown> = { model, created_at: now() };
    if (kind === 'chat') {
      const message: Record<string, unknown> = { role: 'assistant', content: a.text };
      if (a.thinking !== undefined) message.thinking = a.thinking;
      if (a.toolCalls !== undefined) message.tool_calls = toolCallsOut(a.toolCalls);
      out.message = message;
    } else {
      out.response = a.text;
      if (a.thinking !== undefined) out.thinking = a.thinking;
    }
    if (meta.doneReason !== undefined && meta.doneReason !== 'incomplete') out.done_reason = meta.doneReason;
    out.done = true;
    metricsOut({ usage: { promptTokens: meta.promptTokens, completionTokens: meta.completionTokens }, timings: meta.timings }, out);
    const headers: Record<string, string> = { 'x-omega-provider': meta.providerUsed };
    if (meta.fallbackFrom !== undefined) headers['x-omega-fallback-from'] = meta.fallbackFrom.join(',');
    if (meta.host !== undefined) headers[HOST_HEADER] = meta.host;
    sendJson(ex, 200, out, headers);
    return;
  }
  const modelJson = JSON.stringify(model);
  const outcome = await relayStream(ctx, ex, ctx.gateway.chatStream(routed, { signal: ex.signal }), {
    headers: NDJSON,
    chunk: (w, chunk) => w.write(chunkLine(kind, modelJson, chunk)),
    // Headers are out: the error goes into the stream, as Ollama reports a failure mid-answer.
    error: (w, e) => w.write(`${JSON.stringify({ error: e.message })}\n`),
  });
  if (!outcome.ok) return;
  (outcome.writer ?? new StreamWriter(ex, 200, NDJSON)).end();
}

/** Registers Ollama's routes. */
export function registerOllama(ctx: ServerContext): void {
  const { gateway, config } = ctx;
  const running = (ex: Exchange): void => sendText(ex, 200, 'Ollama is running');
  ctx.route('GET', '/', 'ollama', running);
  ctx.route('HEAD', '/', 'ollama', running);

  ctx.route('GET', '/api/version', 'ollama', async (ex) => {
    let version = ctx.version;
    if (ctx.fleet !== undefined) {
      // The lowest version any host runs: what a client may rely on whichever host it reaches.
      version = (await ctx.fleet.version(ex.signal)) ?? version;
    } else if (ctx.upstream !== undefined) {
      try {
        version = (await ctx.upstream.json<{ version: string }>('GET', '/api/version', undefined, AbortSignal.any([ex.signal, AbortSignal.timeout(2000)]))).version;
      } catch {
        // Ollama is down: report Omega's own version rather than fail a version probe.
      }
    }
    sendJson(ex, 200, { version });
  });

  ctx.route('GET', '/api/tags', 'ollama', async (ex) => {
    const models = await listReachable(ctx, ex.signal);
    sendJson(ex, 200, { models: models.filter((m) => m.ollama !== undefined || m.info !== undefined).map(tagsEntry) });
  });

  ctx.route('GET', '/api/ps', 'ollama', async (ex) => {
    if (ctx.fleet !== undefined) return ctx.fleet.ps(ex);
    if (ctx.upstream === undefined) return sendJson(ex, 200, { models: [] });
    await ctx.upstream.relay(ex, 'GET', '/api/ps', undefined);
  });

  ctx.route('POST', '/api/show', 'ollama', async (ex) => {
    const body = await readJsonObject(ex);
    const name = typeof body.model === 'string' && body.model !== '' ? body.model : typeof body.name === 'string' ? body.name : '';
    if (name === '') throw new HttpError(400, 'model is required', 'bad_request', 'model');
    const route = resolveModel(name, config.aliases);
    ex.model = name;
    if (toOllama(ctx, route) && ctx.fleet !== undefined) {
      ex.provider = 'ollama';
      const model = route.model ?? ctx.fleet.fleet.model;
      await ctx.fleet.show(ex, model, { ...body, model, name: undefined });
      return;
    }
    if (toOllama(ctx, route) && ctx.upstream !== undefined) {
      ex.provider = 'ollama';
      const model = route.model ?? (gateway.provider('ollama') as { model?: string }).model ?? name;
      await ctx.upstream.relay(ex, 'POST', '/api/show', { ...body, model, name: undefined });
      return;
    }
    const providerName = route.provider ?? gateway.defaultProvider;
    const provider = gateway.provider(providerName);
    ex.provider = providerName;
    const models = await provider.listModels({ signal: ex.signal });
    const info = models.find((m) => m.name === route.model || m.id === name);
    if (info === undefined) throw new HttpError(404, `model '${name}' not found`, 'model_not_found', 'model');
    const caps: string[] = [];
    if (info.capabilities.chat) caps.push('completion');
    if (info.capabilities.embeddings) caps.push('embedding');
    if (info.capabilities.vision) caps.push('vision');
    if (info.capabilities.tools) caps.push('tools');
    if (info.capabilities.thinking) caps.push('thinking');
    const arch = info.family ?? providerName;
    const modelInfo: Record<string, unknown> = { 'general.architecture': arch };
    if (info.contextWindow !== undefined) modelInfo[`${arch}.context_length`] = info.contextWindow;
    sendJson(ex, 200, {
      modelfile: '',
      parameters: '',
      template: '',
      details: { parent_model: '', format: '', family: arch, families: [arch], parameter_size: info.parameterSize ?? '', quantization_level: info.quantization ?? '' },
      model_info: modelInfo,
      capabilities: caps,
      modified_at: info.modifiedAt ?? '1970-01-01T00:00:00Z',
    });
  });

  ctx.route('POST', '/api/pull', 'ollama', async (ex) => {
    const body = await readJsonObject(ex);
    const name = typeof body.model === 'string' && body.model !== '' ? body.model : typeof body.name === 'string' ? body.name : '';
    const route = resolveModel(name, config.aliases);
    if (!toOllama(ctx, route) || (ctx.upstream === undefined && ctx.fleet === undefined)) {
      throw new HttpError(400, `Only the Ollama provider pulls models; "${name}" goes to ${route.provider ?? gateway.defaultProvider}.`, 'unsupported', 'model');
    }
    ex.provider = 'ollama';
    ex.model = route.model ?? name;
    const pullBody = { ...body, model: route.model ?? name, name: undefined };
    if (ctx.fleet !== undefined) {
      // Every host, unless the client names one (x-omega-host header or ?host=).
      const host = ctx.fleet.namedHost(ex);
      if (host !== undefined) await ctx.fleet.pullOne(ex, host, pullBody);
      else await ctx.fleet.pullAll(ex, route.model ?? name, pullBody);
      return;
    }
    if (ctx.upstream === undefined) return;
    await ctx.upstream.relay(ex, 'POST', '/api/pull', pullBody);
  });

  const embed = (path: '/api/embed' | '/api/embeddings') => async (ex: Exchange) => {
    const body = await readJsonObject(ex);
    const name = typeof body.model === 'string' ? body.model : '';
    const route = resolveModel(name, config.aliases);
    if (!toOllama(ctx, route) || (ctx.upstream === undefined && ctx.fleet === undefined)) {
      throw new HttpError(400, `"${name}" does not support embeddings here; only the Ollama provider's models embed.`, 'unsupported', 'model');
    }
    ex.provider = 'ollama';
    ex.model = route.model ?? name;
    if (ctx.fleet !== undefined) return ctx.fleet.relayModelCall(ex, route.model ?? name, path, { ...body, model: route.model ?? name });
    if (ctx.upstream === undefined) return;
    await ctx.upstream.relay(ex, 'POST', path, { ...body, model: route.model ?? name });
  };
  ctx.route('POST', '/api/embed', 'ollama', embed('/api/embed'));
  ctx.route('POST', '/api/embeddings', 'ollama', embed('/api/embeddings'));

  ctx.route('POST', '/api/chat', 'ollama', async (ex) => {
    const body = await readJsonObject(ex);
    const name = typeof body.model === 'string' ? body.model.trim() : '';
    if (name === '') throw new HttpError(400, 'model is required', 'bad_request', 'model');
    const route = resolveModel(name, config.aliases);
    ex.model = route.model ?? name;
    const messages = messagesIn(body.messages);
    const request: ChatRequest = { messages };
    if (route.model !== undefined) request.model = route.model;
    commonFields(body, request);
    if (messages.length === 0) return loadOnly(ctx, ex, 'chat', name, route, body);
    const routed = routedChat(ex, request, route, 'serve:ollama');
    if (relayable(ctx, route, name, routed) && (await relayGeneration(ctx, ex, '/api/chat', body, routed, name))) return;
    await answer(ctx, ex, 'chat', name, routed, body.stream !== false);
  });

  ctx.route('POST', '/api/generate', 'ollama', async (ex) => {
    const body = await readJsonObject(ex);
    const name = typeof body.model === 'string' ? body.model.trim() : '';
    if (name === '') throw new HttpError(404, `model '${name}' not found`, 'model_not_found', 'model');
    const route = resolveModel(name, config.aliases);
    ex.model = route.model ?? name;
    const special = ['raw', 'suffix', 'template', 'context'].filter((k) => body[k] !== undefined && body[k] !== false && body[k] !== '' && body[k] !== null);
    if (special.length > 0) {
      // Raw prompts, fill-in-the-middle and template overrides are Ollama's alone: relay them.
      if (!toOllama(ctx, route) || (ctx.upstream === undefined && ctx.fleet === undefined)) {
        throw new HttpError(400, `${special.join(', ')} on /api/generate work only with the Ollama provider; use /api/chat for ${route.provider ?? gateway.defaultProvider}.`, 'unsupported', special[0]);
      }
      ex.provider = 'ollama';
      if (ctx.fleet !== undefined) return ctx.fleet.relayModelCall(ex, route.model ?? name, '/api/generate', { ...body, model: route.model ?? name });
      if (ctx.upstream === undefined) return;
      await ctx.upstream.relay(ex, 'POST', '/api/generate', { ...body, model: route.model ?? name });
      return;
    }
    const prompt = str(body.prompt, 'GenerateRequest.prompt') ?? '';
    if (prompt === '') return loadOnly(ctx, ex, 'generate', name, route, body);
    const messages: ChatMessage[] = [];
    const system = str(body.system, 'GenerateRequest.system');
    if (system !== undefined && system !== '') messages.push({ role: 'system', content: system });
    const user: ChatMessage = { role: 'user', content: prompt };
    if (Array.isArray(body.images) && body.images.length > 0) user.images = body.images.map(String);
    messages.push(user);
    const request: ChatRequest = { messages };
    if (route.model !== undefined) request.model = route.model;
    commonFields(body, request);
    const routed = routedChat(ex, request, route, 'serve:ollama');
    if (relayable(ctx, route, name, routed) && (await relayGeneration(ctx, ex, '/api/generate', body, routed, name))) return;
    await answer(ctx, ex, 'generate', name, routed, body.stream !== false);
  });
}

/**
 * Whether a generation can be relayed byte for byte (ollama-relay.ts): the Ollama provider is
 * the first choice, the client's model name is Ollama's own (no alias, no prefix, so Ollama
 * echoes what the client sent), and no conversation needs the answer's text.
 */
function relayable(ctx: ServerContext, route: Route, name: string, routed: RoutedChat): boolean {
  return toOllama(ctx, route) && route.model === name && routed.conversationId === undefined;
}

function routedChat(ex: Exchange, request: ChatRequest, route: Route, channel: string, conversation?: unknown): RoutedChat {
  // The audit key of a request outside any conversation (the gateway would make one up too).
  const routed: RoutedChat = { request, channel, sender: ex.client, requestId: `req-${randomUUID()}` };
  if (route.provider !== undefined) routed.provider = route.provider;
  const conversationId = conversationOf(ex, conversation);
  if (conversationId !== undefined) routed.conversationId = conversationId;
  return routed;
}

/** Builds the {@link RoutedChat} of a request (shared with the other front ends). */
export { routedChat };

/**
 * An empty prompt or message list loads (or with `keep_alive: 0` unloads) the model. Ollama
 * does that itself; for other providers there is nothing to load, so the answer is immediate.
 */
async function loadOnly(ctx: ServerContext, ex: Exchange, kind: Kind, name: string, route: Route, body: Record<string, unknown>): Promise<void> {
  if (toOllama(ctx, route) && ctx.fleet !== undefined) {
    // Loads (or unloads) on the host the router picks for the model.
    ex.provider = 'ollama';
    await ctx.fleet.relayModelCall(ex, route.model ?? name, kind === 'chat' ? '/api/chat' : '/api/generate', { ...body, model: route.model ?? name });
    return;
  }
  if (toOllama(ctx, route) && ctx.upstream !== undefined) {
    ex.provider = 'ollama';
    await ctx.upstream.relay(ex, 'POST', kind === 'chat' ? '/api/chat' : '/api/generate', { ...body, model: route.model ?? name });
    return;
  }
  const out: Record<string, unknown> = { model: name, created_at: now() };
  if (kind === 'chat') out.message = { role: 'assistant', content: '' };
  else out.response = '';
  out.done_reason = 'load';
  out.done = true;
  ex.provider = route.provider ?? ctx.gateway.defaultProvider;
  sendJson(ex, 200, out);
}
