/**
 * Translation between Omega's provider-neutral shapes and the Chat Completions JSON. Pure
 * functions and small state holders, so the mapping can be tested without a server.
 */
import type {
  ChatMessage,
  ChatRequest,
  GenerationOptions,
  JsonSchema,
  ModelCapabilities,
  ModelInfo,
  ToolCall,
  Usage,
} from '../../core/types.js';
import type { ApiErrorContext } from './errors.js';
import { protocolError } from './errors.js';
import type { WireContentPart, WireMessage, WireModel, WireToolCall, WireToolCallDelta, WireUsage } from './types.js';

/** Image types recognised from the first bytes of base64 data. */
const IMAGE_SIGNATURES: readonly (readonly [string, string])[] = [
  ['iVBORw0KGgo', 'image/png'],
  ['/9j/', 'image/jpeg'],
  ['R0lGOD', 'image/gif'],
  ['UklGR', 'image/webp'],
];

/**
 * An image as the `url` of an `image_url` part. Omega carries images as base64; the API wants
 * a data URL with the right media type, sniffed from the data. Data and http(s) URLs pass as given.
 */
export function imageUrl(image: string): string {
  if (image.startsWith('data:') || /^https?:\/\//i.test(image)) return image;
  const data = image.replace(/\s+/g, '');
  const mime = IMAGE_SIGNATURES.find(([sig]) => data.startsWith(sig))?.[1] ?? 'image/png';
  return `data:${mime};base64,${data}`;
}

/**
 * The conversation as Chat Completions messages. Tool calls get ids when they have none
 * (history from a provider without ids), and a tool result without `toolCallId` is paired with
 * the oldest unanswered call of the same tool name, so the API can match them.
 */
export function toWireMessages(messages: readonly ChatMessage[]): WireMessage[] {
  const out: WireMessage[] = [];
  const open: { id: string; name: string }[] = [];
  for (let mi = 0; mi < messages.length; mi++) {
    const m = messages[mi] as ChatMessage;
    switch (m.role) {
      case 'system':
        out.push({ role: 'system', content: m.content });
        break;
      case 'user': {
        if (m.images !== undefined && m.images.length > 0) {
          const parts: WireContentPart[] = [];
          if (m.content !== '') parts.push({ type: 'text', text: m.content });
          for (const image of m.images) parts.push({ type: 'image_url', image_url: { url: imageUrl(image) } });
          out.push({ role: 'user', content: parts });
        } else {
          out.push({ role: 'user', content: m.content });
        }
        break;
      }
      case 'assistant': {
        const w: WireMessage = { role: 'assistant', content: m.content };
        if (m.toolCalls !== undefined && m.toolCalls.length > 0) {
          w.tool_calls = m.toolCalls.map((call, i): WireToolCall => {
            const id = call.id ?? `call_${mi}_${i}`;
            open.push({ id, name: call.name });
            return { id, type: 'function', function: { name: call.name, arguments: JSON.stringify(call.arguments ?? {}) } };
          });
          // The API wants null, not '', next to tool calls.
          if (m.content === '') w.content = null;
        }
        out.push(w);
        break;
      }
      case 'tool': {
        let id = m.toolCallId;
        if (id === undefined) {
          const match = open.find((c) => m.toolName === undefined || c.name === m.toolName);
          id = match?.id ?? m.toolName ?? 'call_unknown';
        }
        const at = open.findIndex((c) => c.id === id);
        if (at !== -1) open.splice(at, 1);
        out.push({ role: 'tool', tool_call_id: id, content: m.content });
        break;
      }
    }
  }
  return out;
}

/** `format` as `response_format`: any JSON object, or a JSON Schema the answer must follow. */
export function responseFormat(format: 'json' | JsonSchema): Record<string, unknown> {
  if (format === 'json') return { type: 'json_object' };
  const title = typeof format.title === 'string' ? format.title.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) : '';
  return { type: 'json_schema', json_schema: { name: title === '' ? 'response' : title, schema: format } };
}

/**
 * Ollama-only generation options that no OpenAI-compatible API accepts: dropped rather than
 * forwarded, since an unknown parameter is a 400 at OpenAI.
 */
const OLLAMA_ONLY_OPTIONS: ReadonlySet<string> = new Set([
  'num_ctx',
  'num_keep',
  'num_batch',
  'num_gpu',
  'main_gpu',
  'num_thread',
  'repeat_last_n',
  'mirostat',
  'mirostat_eta',
  'mirostat_tau',
  'tfs_z',
  'typical_p',
  'penalize_newline',
  'numa',
  'low_vram',
  'use_mmap',
  'use_mlock',
  'vocab_only',
  'f16_kv',
  'logits_all',
]);

/** How a dialect spells generation options. */
export interface OptionDialect {
  /** Field for the output limit: `max_completion_tokens` (OpenAI) or `max_tokens` (most others). */
  maxTokensField: 'max_tokens' | 'max_completion_tokens';
  /** Omega option names the dialect supports under another (or the same) name, beyond the common ones. */
  extra?: Readonly<Record<string, string>>;
}

const COMMON_OPTIONS: Readonly<Record<string, string>> = {
  temperature: 'temperature',
  top_p: 'top_p',
  seed: 'seed',
  stop: 'stop',
  presence_penalty: 'presence_penalty',
  frequency_penalty: 'frequency_penalty',
};

/** Options the OpenAI API itself does not take (OpenRouter maps them through {@link OptionDialect.extra}). */
const NOT_OPENAI: ReadonlySet<string> = new Set(['top_k', 'min_p', 'repeat_penalty']);

/**
 * Writes generation options into `body`, translating names; unknown keys pass through as the
 * contract promises. Returns the keys that were dropped because the API cannot take them.
 */
export function applyOptions(
  body: Record<string, unknown>,
  options: GenerationOptions | undefined,
  maxTokens: number | undefined,
  dialect: OptionDialect,
): string[] {
  const dropped: string[] = [];
  let limit = maxTokens;
  if (options !== undefined) {
    for (const [key, value] of Object.entries(options)) {
      if (value === undefined) continue;
      if (key === 'num_predict') {
        // Ollama's -1 / -2 mean "no limit" / "fill the context": leave the API's default.
        if (typeof value === 'number' && value > 0) limit = value;
        continue;
      }
      const name = COMMON_OPTIONS[key] ?? dialect.extra?.[key];
      if (name !== undefined) body[name] = value;
      else if (OLLAMA_ONLY_OPTIONS.has(key) || NOT_OPENAI.has(key)) dropped.push(key);
      else body[key] = value;
    }
  }
  if (limit !== undefined) body[dialect.maxTokensField] = limit;
  return dropped;
}

/** What every Chat Completions body shares; the provider adds `stream`, thinking and options. */
export function baseChatBody(request: ChatRequest, model: string): Record<string, unknown> {
  const body: Record<string, unknown> = { model, messages: toWireMessages(request.messages) };
  if (request.tools !== undefined && request.tools.length > 0) body.tools = request.tools;
  if (request.format !== undefined) body.response_format = responseFormat(request.format);
  return body;
}

/** Token counts from the API's `usage`. */
export function toUsage(u: WireUsage | null | undefined): Usage {
  const usage: Usage = {};
  if (u === undefined || u === null || typeof u !== 'object') return usage;
  const p = u.prompt_tokens;
  const c = u.completion_tokens;
  if (typeof p === 'number') usage.promptTokens = p;
  if (typeof c === 'number') usage.completionTokens = c;
  if (typeof u.total_tokens === 'number') usage.totalTokens = u.total_tokens;
  else if (typeof p === 'number' || typeof c === 'number') usage.totalTokens = (p ?? 0) + (c ?? 0);
  return usage;
}

/**
 * Assembles streamed tool calls. The first fragment of a call carries its `index`, `id` and
 * name, later ones only `index` and a piece of the arguments' JSON text; some servers send each
 * call whole in one fragment. Arguments are parsed once, when the answer is complete.
 */
export class ToolCallAssembler {
  private readonly calls: { index: number; id?: string; name: string; args: string }[] = [];

  /** Number of calls begun so far. */
  get size(): number {
    return this.calls.length;
  }

  /** Adds the fragments of one delta. */
  add(fragments: readonly WireToolCallDelta[]): void {
    for (let i = 0; i < fragments.length; i++) {
      const f = fragments[i];
      if (typeof f !== 'object' || f === null) continue;
      let call = this.find(f, i);
      if (call === undefined) {
        call = { index: typeof f.index === 'number' ? f.index : this.calls.length, name: '', args: '' };
        this.calls.push(call);
      }
      if (typeof f.id === 'string' && f.id !== '') call.id = f.id;
      const fn = f.function;
      if (fn !== undefined && fn !== null) {
        // Some servers repeat the name in every fragment: the first one names the call.
        if (typeof fn.name === 'string' && call.name === '') call.name = fn.name;
        if (typeof fn.arguments === 'string') call.args += fn.arguments;
        else if (typeof fn.arguments === 'object' && fn.arguments !== null) call.args += JSON.stringify(fn.arguments);
      }
    }
  }

  /**
   * The complete calls in index order, arguments parsed. Arguments that are not a JSON object
   * are a `protocol` error naming the tool; `truncated` (the answer hit its length limit) says why.
   */
  finish(ctx: ApiErrorContext, truncated: boolean, partialText?: string): ToolCall[] {
    const sorted = [...this.calls].sort((a, b) => a.index - b.index);
    return sorted.map((c) => {
      let args: unknown;
      const text = c.args.trim();
      if (text === '') {
        args = {};
      } else {
        try {
          args = JSON.parse(text);
        } catch (cause) {
          throw protocolError(
            `the arguments of tool '${c.name}' are not valid JSON${truncated ? ', cut off by the output token limit' : ''}`,
            ctx,
            cause,
            partialText,
          );
        }
      }
      if (typeof args !== 'object' || args === null || Array.isArray(args)) {
        throw protocolError(`the arguments of tool '${c.name}' are not a JSON object`, ctx, undefined, partialText);
      }
      const call: ToolCall = { name: c.name, arguments: args as Record<string, unknown>, index: c.index };
      if (c.id !== undefined) call.id = c.id;
      return call;
    });
  }

  private find(f: WireToolCallDelta, position: number): (typeof this.calls)[number] | undefined {
    if (typeof f.index === 'number') return this.calls.find((c) => c.index === f.index);
    // No index (some compatible servers): a known id continues its call, a new id starts one.
    if (typeof f.id === 'string' && f.id !== '') return this.calls.find((c) => c.id === f.id);
    // Neither: a continuation of the call at this position, else of the last one.
    return this.calls[position] ?? this.calls[this.calls.length - 1];
  }
}

const EMBEDDING = /embed/i;
const NOT_CHAT = /embed|whisper|tts|dall-e|davinci|babbage|moderation|transcribe|^gpt-image|realtime|search-preview|sora/i;
const VISION = /gpt-4o|gpt-4\.1|gpt-4-turbo|gpt-5|^o[134]|vision|llava|-vl\b|pixtral|gemma3/i;
const TOOLS = /gpt-4|gpt-3\.5-turbo|gpt-5|^o[134]/i;
const THINKING = /^o[134]|gpt-5|reason|r1\b|qwq|thinking/i;

/**
 * What a model can do, guessed from its name: `GET /models` says nothing about capabilities.
 * Names of OpenAI's families are recognised; unknown names of compatible servers count as plain chat models.
 */
export function guessCapabilities(id: string): ModelCapabilities {
  const chat = !NOT_CHAT.test(id);
  return {
    chat,
    vision: chat && VISION.test(id),
    tools: chat && TOOLS.test(id),
    embeddings: EMBEDDING.test(id),
    streaming: chat,
    thinking: chat && THINKING.test(id),
  };
}

/** A `GET /models` entry as a {@link ModelInfo}; hosted models are not local and have no known price. */
export function toModelInfo(provider: string, m: WireModel): ModelInfo | undefined {
  if (typeof m !== 'object' || m === null || typeof m.id !== 'string' || m.id === '') return undefined;
  const info: ModelInfo = {
    id: `${provider}/${m.id}`,
    provider,
    name: m.id,
    capabilities: guessCapabilities(m.id),
    pricing: null,
    local: false,
  };
  const ctx = m.context_length ?? m.max_model_len;
  if (typeof ctx === 'number' && Number.isFinite(ctx) && ctx > 0) info.contextWindow = ctx;
  if (typeof m.created === 'number' && Number.isFinite(m.created) && m.created > 0) {
    info.modifiedAt = new Date(m.created * 1000).toISOString();
  }
  return info;
}
