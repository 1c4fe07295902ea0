/**
 * Translation between Omega's provider-neutral shapes and Ollama's JSON. Pure functions, so
 * the mapping can be tested without a server.
 */
import type {
  ChatChunk,
  ChatMessage,
  ChatRequest,
  ChatResponse,
  GenerationOptions,
  MessageMetadata,
  ModelCapabilities,
  ModelInfo,
  Timings,
  TokenAlternative,
  TokenLogprob,
  ToolCall,
  Usage,
} from '../../core/types.js';
import { chatMetadata } from '../../core/types.js';
import type {
  ModelDetails,
  RunningModel,
  WireChatResponse,
  WireListModel,
  WireLogprob,
  WireMessage,
  WireMetrics,
  WireRunningModel,
  WireShowResponse,
  WireToolCall,
} from './types.js';

/** Provider name used in metadata, model ids and errors. */
export const PROVIDER = 'ollama';

/**
 * Ollama decodes `images` as Go `[]byte`, i.e. plain standard base64, and rejects a
 * `data:image/...;base64,` prefix with a 400; browsers and many tools produce that prefix.
 */
export function stripDataUrl(image: string): string {
  if (!image.startsWith('data:')) return image;
  const comma = image.indexOf(',');
  return comma === -1 ? image : image.slice(comma + 1);
}

/** One {@link ChatMessage} as Ollama's `api.Message`. */
export function toWireMessage(message: ChatMessage): WireMessage {
  const wire: WireMessage = { role: message.role, content: message.content };
  if (message.thinking !== undefined && message.thinking !== '') wire.thinking = message.thinking;
  if (message.images !== undefined && message.images.length > 0) wire.images = message.images.map(stripDataUrl);
  if (message.toolCalls !== undefined && message.toolCalls.length > 0) {
    wire.tool_calls = message.toolCalls.map((call) => {
      const fn: WireToolCall['function'] = { name: call.name, arguments: call.arguments };
      if (call.index !== undefined) fn.index = call.index;
      const out: WireToolCall = { function: fn };
      // 0.9.6 ignores ids; newer servers use them to pair calls with results.
      if (call.id !== undefined) out.id = call.id;
      return out;
    });
  }
  if (message.toolName !== undefined) wire.tool_name = message.toolName;
  if (message.toolCallId !== undefined) wire.tool_call_id = message.toolCallId;
  return wire;
}

/** Defaults the provider was configured with, applied under each request's own values. */
export interface ChatDefaults {
  model: string;
  keepAlive?: string | number;
  options?: GenerationOptions;
}

/**
 * The `/api/chat` request body. `stream` is always explicit because Ollama streams when it is
 * absent; `keep_alive` is sent only when set, so the server's `OLLAMA_KEEP_ALIVE` applies otherwise.
 */
export function buildChatBody(request: ChatRequest, defaults: ChatDefaults, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: request.model ?? defaults.model,
    messages: request.messages.map(toWireMessage),
    stream,
  };
  if (request.tools !== undefined && request.tools.length > 0) body.tools = request.tools;
  if (request.format !== undefined) body.format = request.format;
  if (request.think !== undefined) body.think = request.think;
  // Sent only when set: 0.9.6 ignores these fields, newer servers default both to true.
  if (request.truncate !== undefined) body.truncate = request.truncate;
  if (request.shift !== undefined) body.shift = request.shift;
  if (request.logprobs !== undefined) body.logprobs = request.logprobs;
  if (request.topLogprobs !== undefined) body.top_logprobs = request.topLogprobs;
  const options = mergeOptions(defaults.options, request.options);
  if (options !== undefined) body.options = options;
  const keepAlive = request.keepAlive ?? defaults.keepAlive;
  if (keepAlive !== undefined) body.keep_alive = keepAlive;
  return body;
}

/** The provider's options overlaid with the request's; `undefined` when both are empty. */
export function mergeOptions(
  base: GenerationOptions | undefined,
  over: GenerationOptions | undefined,
): GenerationOptions | undefined {
  const hasBase = base !== undefined && Object.keys(base).length > 0;
  const hasOver = over !== undefined && Object.keys(over).length > 0;
  if (!hasBase && !hasOver) return undefined;
  if (!hasOver) return base;
  if (!hasBase) return over;
  return { ...base, ...over };
}

/** Ollama's tool calls as {@link ToolCall}s; arguments are always an object. */
export function toToolCalls(calls: WireToolCall[]): ToolCall[] {
  const out: ToolCall[] = [];
  for (const call of calls) {
    const fn = call.function;
    if (fn === undefined || fn === null) continue;
    const tc: ToolCall = { name: fn.name, arguments: toArguments(fn.arguments) };
    if (typeof fn.index === 'number') tc.index = fn.index;
    if (typeof call.id === 'string') tc.id = call.id;
    out.push(tc);
  }
  return out;
}

function toArguments(args: unknown): Record<string, unknown> {
  if (typeof args === 'object' && args !== null && !Array.isArray(args)) return args as Record<string, unknown>;
  if (typeof args === 'string') {
    // Not what 0.9.6 sends, but OpenAI-style servers in front of Ollama do.
    try {
      const parsed: unknown = JSON.parse(args);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // fall through
    }
  }
  return {};
}

/** Ollama's log probabilities as {@link TokenLogprob}s; entries without a token or number are dropped. */
export function toLogprobs(list: readonly WireLogprob[]): TokenLogprob[] {
  const out: TokenLogprob[] = [];
  for (const w of list) {
    const alt = toAlternative(w);
    if (alt === undefined) continue;
    const lp: TokenLogprob = alt;
    if (Array.isArray(w.top_logprobs)) {
      lp.topLogprobs = w.top_logprobs.map(toAlternative).filter((a): a is TokenAlternative => a !== undefined);
    }
    out.push(lp);
  }
  return out;
}

function toAlternative(w: WireLogprob | null | undefined): TokenAlternative | undefined {
  if (w === null || w === undefined || typeof w.token !== 'string' || typeof w.logprob !== 'number') return undefined;
  const alt: TokenAlternative = { token: w.token, logprob: w.logprob };
  if (Array.isArray(w.bytes)) alt.bytes = w.bytes;
  return alt;
}

/** Token counts from Ollama's metrics. */
export function toUsage(m: WireMetrics): Usage {
  const usage: Usage = {};
  const p = m.prompt_eval_count;
  const c = m.eval_count;
  if (typeof p === 'number') usage.promptTokens = p;
  if (typeof c === 'number') usage.completionTokens = c;
  if (typeof p === 'number' || typeof c === 'number') usage.totalTokens = (p ?? 0) + (c ?? 0);
  return usage;
}

const NS_PER_MS = 1e6;

/** Ollama's nanosecond durations as milliseconds, plus tokens per second. */
export function toTimings(m: WireMetrics): Timings {
  const t: Timings = {};
  if (typeof m.total_duration === 'number') t.totalMs = m.total_duration / NS_PER_MS;
  if (typeof m.load_duration === 'number') t.loadMs = m.load_duration / NS_PER_MS;
  if (typeof m.prompt_eval_duration === 'number') {
    t.promptEvalMs = m.prompt_eval_duration / NS_PER_MS;
    if (typeof m.prompt_eval_count === 'number' && m.prompt_eval_duration > 0) {
      t.promptTokensPerSecond = (m.prompt_eval_count * 1e9) / m.prompt_eval_duration;
    }
  }
  if (typeof m.eval_duration === 'number') {
    t.evalMs = m.eval_duration / NS_PER_MS;
    if (typeof m.eval_count === 'number' && m.eval_duration > 0) {
      t.tokensPerSecond = (m.eval_count * 1e9) / m.eval_duration;
    }
  }
  return t;
}

/** One streamed `/api/chat` line as a {@link ChatChunk}. `model` is used when the line names none. */
export function toChunk(w: WireChatResponse, model: string): ChatChunk {
  const m = w.message;
  const done = w.done === true;
  const chunk: ChatChunk = {
    content: m !== undefined && typeof m.content === 'string' ? m.content : '',
    done,
    model: typeof w.model === 'string' ? w.model : model,
  };
  if (m !== undefined) {
    if (m.thinking !== undefined && m.thinking !== '') chunk.thinking = m.thinking;
    if (m.tool_calls !== undefined && m.tool_calls !== null && m.tool_calls.length > 0) {
      chunk.toolCalls = toToolCalls(m.tool_calls);
    }
  }
  if (Array.isArray(w.logprobs) && w.logprobs.length > 0) chunk.logprobs = toLogprobs(w.logprobs);
  if (done) {
    if (typeof w.done_reason === 'string' && w.done_reason !== '') chunk.doneReason = w.done_reason;
    chunk.usage = toUsage(w);
    chunk.timings = toTimings(w);
  }
  return chunk;
}

/** {@link MessageMetadata} of a finished chat. */
export function toMetadata(res: ChatResponse): MessageMetadata {
  return chatMetadata(PROVIDER, res);
}

/** Ollama's capability names as {@link ModelCapabilities}; without a list, a plain chat model is assumed. */
export function toCapabilities(caps: readonly string[] | undefined): ModelCapabilities {
  if (caps === undefined) {
    return { chat: true, vision: false, tools: false, embeddings: false, streaming: true, thinking: false };
  }
  return {
    chat: caps.includes('completion'),
    vision: caps.includes('vision'),
    tools: caps.includes('tools'),
    embeddings: caps.includes('embedding'),
    streaming: true,
    thinking: caps.includes('thinking'),
    // Only when present, so capability objects of other models keep their shape.
    ...(caps.includes('image') ? { imageGeneration: true } : {}),
  };
}

/** `model_info["<general.architecture>.context_length"]`, the model's trained maximum context. */
export function contextWindowOf(modelInfo: Record<string, unknown> | undefined): number | undefined {
  if (modelInfo === undefined || modelInfo === null) return undefined;
  const arch = modelInfo['general.architecture'];
  if (typeof arch !== 'string' || arch === '') return undefined;
  const value = modelInfo[`${arch}.context_length`];
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

/** An `/api/tags` entry, enriched from `/api/show` when available, as a {@link ModelInfo}. */
export function toModelInfo(tag: WireListModel, show: WireShowResponse | undefined): ModelInfo {
  const details = tag.details ?? show?.details;
  const info: ModelInfo = {
    id: `${PROVIDER}/${tag.name}`,
    provider: PROVIDER,
    name: tag.name,
    capabilities: toCapabilities(show?.capabilities),
    pricing: null,
    local: true,
  };
  // A cloud model is a local name for a model that runs elsewhere (Ollama 0.12 and later).
  const remoteHost = nonEmptyString(tag.remote_host) ?? nonEmptyString(show?.remote_host);
  const remoteModel = nonEmptyString(tag.remote_model) ?? nonEmptyString(show?.remote_model);
  if (remoteHost !== undefined || remoteModel !== undefined) {
    info.local = false;
    if (remoteHost !== undefined) info.remoteHost = remoteHost;
    if (remoteModel !== undefined) info.remoteModel = remoteModel;
  }
  const ctx = contextWindowOf(show?.model_info);
  if (ctx !== undefined) info.contextWindow = ctx;
  if (typeof tag.size === 'number') info.sizeBytes = tag.size;
  if (typeof tag.modified_at === 'string') info.modifiedAt = tag.modified_at;
  if (details?.family) info.family = details.family;
  if (details?.parameter_size) info.parameterSize = details.parameter_size;
  if (details?.quantization_level) info.quantization = details.quantization_level;
  if (typeof tag.digest === 'string' && tag.digest !== '') info.digest = tag.digest;
  return info;
}

/** `/api/show`'s answer as {@link ModelDetails}. */
export function toModelDetails(name: string, show: WireShowResponse): ModelDetails {
  const modelInfo = show.model_info ?? {};
  const out: ModelDetails = { name, capabilities: show.capabilities ?? [], modelInfo };
  const ctx = contextWindowOf(modelInfo);
  if (ctx !== undefined) out.contextWindow = ctx;
  const d = show.details;
  if (d?.family) out.family = d.family;
  if (d?.parameter_size) out.parameterSize = d.parameter_size;
  if (d?.quantization_level) out.quantization = d.quantization_level;
  if (typeof show.template === 'string') out.template = show.template;
  if (typeof show.parameters === 'string') out.parameters = show.parameters;
  const remoteHost = nonEmptyString(show.remote_host);
  const remoteModel = nonEmptyString(show.remote_model);
  if (remoteHost !== undefined) out.remoteHost = remoteHost;
  if (remoteModel !== undefined) out.remoteModel = remoteModel;
  return out;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** An `/api/ps` entry as a {@link RunningModel}. */
export function toRunningModel(w: WireRunningModel): RunningModel {
  const out: RunningModel = {
    name: w.name,
    model: w.model ?? w.name,
    sizeBytes: w.size ?? 0,
    sizeVramBytes: w.size_vram ?? 0,
    digest: w.digest ?? '',
    expiresAt: w.expires_at ?? '',
  };
  const d = w.details;
  if (d?.family) out.family = d.family;
  if (d?.parameter_size) out.parameterSize = d.parameter_size;
  if (d?.quantization_level) out.quantization = d.quantization_level;
  if (typeof w.context_length === 'number' && w.context_length > 0) out.contextLength = w.context_length;
  return out;
}

const LINE_HEAD = '{"model":"';
const LINE_MID = '","created_at":"';
const LINE_MSG = '","message":{"role":"assistant","content":"';
const LINE_TAIL = '"},"done":false}';

/**
 * Fast path for the line Ollama sends for almost every token:
 * `{"model":"M","created_at":"T","message":{"role":"assistant","content":"C"},"done":false}`.
 *
 * Every byte outside the three string values is checked against that exact shape, and the
 * values must be plain JSON strings (the content is decoded with JSON.parse when it holds an
 * escape), so an accepted line means exactly what JSON.parse would make of it. Anything else
 * (thinking, tool calls, the final chunk, errors, another field order) returns `undefined` and
 * takes the full JSON.parse path. Skipping the generic parse for the common case is what lets
 * a typed AsyncIterable keep up with a bare parse loop.
 */
export function fastContentChunk(line: string): ChatChunk | undefined {
  if (!line.startsWith(LINE_HEAD) || !line.endsWith(LINE_TAIL)) return undefined;
  const modelEnd = line.indexOf('"', LINE_HEAD.length);
  if (modelEnd === -1 || !line.startsWith(LINE_MID, modelEnd)) return undefined;
  const timeEnd = line.indexOf('"', modelEnd + LINE_MID.length);
  if (timeEnd === -1 || !line.startsWith(LINE_MSG, timeEnd)) return undefined;
  const start = timeEnd + LINE_MSG.length;
  const end = line.length - LINE_TAIL.length;
  if (end < start) return undefined;
  const backslash = line.indexOf('\\');
  // An escape before the content means a quote inside model or created_at may be escaped: let JSON.parse decide.
  if (backslash !== -1 && backslash < start) return undefined;
  let content = line.slice(start, end);
  if (backslash !== -1 || content.indexOf('"') !== -1) {
    try {
      content = JSON.parse(`"${content}"`) as string;
    } catch {
      return undefined;
    }
  }
  return { content, done: false, model: line.slice(LINE_HEAD.length, modelEnd) };
}
