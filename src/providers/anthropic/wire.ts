/**
 * Translation between Omega's provider-neutral shapes and the Messages API's JSON. Pure
 * functions, so the mapping can be tested without a server.
 */
import type {
  ChatMessage,
  ChatRequest,
  DoneReason,
  ModelCapabilities,
  ModelInfo,
  Pricing,
  ThinkSetting,
  ToolCall,
  ToolDefinition,
  Usage,
} from '../../core/types.js';
import { ProviderError } from '../../core/errors.js';
import { THINKING_BUDGETS } from './types.js';
import type {
  WireContentBlock,
  WireImageSource,
  WireMessage,
  WireMessageResponse,
  WireModel,
  WireTool,
  WireUsage,
} from './types.js';

/** Provider name used in metadata, model ids and errors. */
export const PROVIDER = 'anthropic';

/** Defaults the provider was configured with. */
export interface RequestDefaults {
  model: string;
  maxTokens: number;
}

/**
 * The media type of a base64 image, from a `data:` URL's prefix or else the first bytes of the
 * image itself (PNG, JPEG, GIF, WebP: the types the API accepts).
 */
export function imageSource(image: string): WireImageSource {
  let data = image.trim();
  let declared: string | undefined;
  if (data.startsWith('data:')) {
    const comma = data.indexOf(',');
    const meta = comma === -1 ? '' : data.slice(5, comma);
    data = comma === -1 ? '' : data.slice(comma + 1);
    const type = meta.split(';')[0]?.trim().toLowerCase();
    if (type !== undefined && type.startsWith('image/')) declared = type;
  }
  const mediaType = sniffImageType(data) ?? declared;
  if (mediaType === undefined) {
    throw new ProviderError({
      provider: PROVIDER,
      code: 'unsupported',
      message: 'An image is not PNG, JPEG, GIF or WebP (or not base64); Anthropic accepts only those four formats.',
    });
  }
  return { type: 'base64', media_type: mediaType, data };
}

/** The image type named by the magic bytes at the start of base64 `data`, if one of the API's four. */
export function sniffImageType(data: string): string | undefined {
  // 16 base64 characters decode to 12 bytes, enough for every signature below.
  const head = Buffer.from(data.slice(0, 16), 'base64');
  const at = (i: number): number => head[i] ?? -1;
  if (at(0) === 0x89 && at(1) === 0x50 && at(2) === 0x4e && at(3) === 0x47) return 'image/png';
  if (at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) return 'image/jpeg';
  if (head.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif';
  if (head.subarray(0, 4).toString('latin1') === 'RIFF' && head.subarray(8, 12).toString('latin1') === 'WEBP') {
    return 'image/webp';
  }
  return undefined;
}

/** The `thinking.budget_tokens` of a `think` setting, or `undefined` when thinking is off. */
export function thinkingBudget(think: ThinkSetting | undefined): number | undefined {
  if (think === undefined || think === false) return undefined;
  if (think === true) return THINKING_BUDGETS.medium;
  return THINKING_BUDGETS[think];
}

/** Tool definitions in the Messages API's shape. */
export function toWireTools(tools: readonly ToolDefinition[]): WireTool[] {
  return tools.map((t) => {
    const tool: WireTool = {
      name: t.function.name,
      input_schema: t.function.parameters ?? { type: 'object', properties: {} },
    };
    if (t.function.description !== undefined) tool.description = t.function.description;
    return tool;
  });
}

/**
 * Splits Omega messages into the top-level `system` text and the API's `messages`. Tool results
 * become `tool_result` blocks in a user message, assistant tool calls `tool_use` blocks, and
 * consecutive messages of one role are merged (the API wants user and assistant to alternate).
 * A tool result without a `toolCallId` is paired with the latest unanswered call of its tool.
 */
export function toWireMessages(messages: readonly ChatMessage[]): { system: string; messages: WireMessage[] } {
  const system: string[] = [];
  const out: { role: 'user' | 'assistant'; blocks: WireContentBlock[] }[] = [];
  const unanswered: { id: string; name: string }[] = [];
  let generated = 0;
  const push = (role: 'user' | 'assistant', blocks: WireContentBlock[]): void => {
    if (blocks.length === 0) return;
    const last = out.at(-1);
    if (last !== undefined && last.role === role) last.blocks.push(...blocks);
    else out.push({ role, blocks });
  };
  for (const m of messages) {
    switch (m.role) {
      case 'system':
        if (m.content.trim() !== '') system.push(m.content);
        break;
      case 'user': {
        const blocks: WireContentBlock[] = [];
        // Images first: Anthropic's guidance, and how its own clients order them.
        for (const image of m.images ?? []) blocks.push({ type: 'image', source: imageSource(image) });
        if (m.content !== '') blocks.push({ type: 'text', text: m.content });
        push('user', blocks);
        break;
      }
      case 'assistant': {
        const blocks: WireContentBlock[] = [];
        // Thinking is not sent back: the API requires the signature Omega does not keep.
        if (m.content !== '') blocks.push({ type: 'text', text: m.content });
        for (const call of m.toolCalls ?? []) {
          const id = call.id ?? `toolu_omega_${generated++}`;
          blocks.push({ type: 'tool_use', id, name: call.name, input: call.arguments });
          unanswered.push({ id, name: call.name });
        }
        push('assistant', blocks);
        break;
      }
      case 'tool': {
        let id = m.toolCallId;
        if (id === undefined) {
          let i = -1;
          for (let k = unanswered.length - 1; k >= 0; k--) {
            if (m.toolName === undefined || unanswered[k]?.name === m.toolName) {
              i = k;
              break;
            }
          }
          id = i === -1 ? `toolu_omega_${generated++}` : (unanswered[i] as { id: string }).id;
        }
        const answered = unanswered.findIndex((u) => u.id === id);
        if (answered !== -1) unanswered.splice(answered, 1);
        push('user', [{ type: 'tool_result', tool_use_id: id, content: m.content }]);
        break;
      }
    }
  }
  return {
    system: system.join('\n\n'),
    messages: out.map(({ role, blocks }) => {
      const only = blocks[0];
      // A lone text block is sent as a plain string, the API's simplest form.
      if (blocks.length === 1 && only?.type === 'text') return { role, content: only.text };
      return { role, content: blocks };
    }),
  };
}

/**
 * The `/v1/messages` request body. `max_tokens` is the configured answer length; when thinking
 * is on its budget is added, since thinking counts against `max_tokens`. Sampling options the
 * API refuses together with thinking (temperature, top_k) are dropped then.
 */
export function buildRequestBody(
  request: ChatRequest,
  defaults: RequestDefaults,
  stream: boolean,
): Record<string, unknown> {
  if (request.format !== undefined) {
    throw new ProviderError({
      provider: PROVIDER,
      code: 'unsupported',
      message:
        "Anthropic's Messages API has no JSON output mode; describe the format in the prompt or use a tool with an input schema instead.",
    });
  }
  const { system, messages } = toWireMessages(request.messages);
  const opts = request.options ?? {};
  const maxTokens =
    typeof opts.num_predict === 'number' && opts.num_predict > 0 ? Math.floor(opts.num_predict) : defaults.maxTokens;
  const budget = thinkingBudget(request.think);
  const body: Record<string, unknown> = {
    model: request.model ?? defaults.model,
    max_tokens: budget === undefined ? maxTokens : maxTokens + budget,
    messages,
  };
  if (system !== '') body.system = system;
  if (budget !== undefined) body.thinking = { type: 'enabled', budget_tokens: budget };
  if (request.tools !== undefined && request.tools.length > 0) body.tools = toWireTools(request.tools);
  if (budget === undefined && typeof opts.temperature === 'number') body.temperature = opts.temperature;
  if (typeof opts.top_p === 'number') body.top_p = opts.top_p;
  if (budget === undefined && typeof opts.top_k === 'number') body.top_k = opts.top_k;
  if (Array.isArray(opts.stop) && opts.stop.length > 0) body.stop_sequences = opts.stop;
  if (stream) body.stream = true;
  return body;
}

/** The API's `stop_reason` in {@link DoneReason} terms; unknown reasons pass through. */
export function toDoneReason(stopReason: string | null | undefined): DoneReason | undefined {
  switch (stopReason) {
    case undefined:
    case null:
      return undefined;
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'max_tokens':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    default:
      return stopReason;
  }
}

/** Token counts; cache reads and writes count as prompt tokens (the API's input_tokens excludes them). */
export function toUsage(u: WireUsage | undefined): Usage {
  const usage: Usage = {};
  if (u === undefined || u === null) return usage;
  const parts = [u.input_tokens, u.cache_creation_input_tokens, u.cache_read_input_tokens].filter(
    (n): n is number => typeof n === 'number',
  );
  if (parts.length > 0) usage.promptTokens = parts.reduce((a, b) => a + b, 0);
  if (typeof u.output_tokens === 'number') usage.completionTokens = u.output_tokens;
  if (usage.promptTokens !== undefined || usage.completionTokens !== undefined) {
    usage.totalTokens = (usage.promptTokens ?? 0) + (usage.completionTokens ?? 0);
  }
  return usage;
}

/** A tool_use block's input as an arguments object. */
export function toArguments(input: unknown): Record<string, unknown> {
  return typeof input === 'object' && input !== null && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
}

/** The text, thinking and tool calls of a Message's content blocks. */
export function readContent(res: WireMessageResponse): { text: string; thinking: string; toolCalls: ToolCall[] } {
  let text = '';
  let thinking = '';
  const toolCalls: ToolCall[] = [];
  for (const block of res.content ?? []) {
    if (block.type === 'text' && typeof block.text === 'string') text += block.text;
    else if (block.type === 'thinking' && typeof block.thinking === 'string') thinking += block.thinking;
    else if (block.type === 'tool_use' && typeof block.name === 'string') {
      const call: ToolCall = { name: block.name, arguments: toArguments(block.input), index: toolCalls.length };
      if (typeof block.id === 'string') call.id = block.id;
      toolCalls.push(call);
    }
  }
  return { text, thinking, toolCalls };
}

interface KnownModel {
  prefix: string;
  maxOutput: number;
  pricing: Pricing;
  thinking: boolean;
}

// Public list prices (US$ per million tokens) and output limits; longest prefix first.
const KNOWN: readonly KnownModel[] = [
  { prefix: 'claude-opus-4-5', maxOutput: 64_000, pricing: { inputPerMillion: 5, outputPerMillion: 25 }, thinking: true },
  { prefix: 'claude-opus-4', maxOutput: 32_000, pricing: { inputPerMillion: 15, outputPerMillion: 75 }, thinking: true },
  { prefix: 'claude-sonnet-4', maxOutput: 64_000, pricing: { inputPerMillion: 3, outputPerMillion: 15 }, thinking: true },
  { prefix: 'claude-haiku-4', maxOutput: 64_000, pricing: { inputPerMillion: 1, outputPerMillion: 5 }, thinking: true },
  { prefix: 'claude-3-7-sonnet', maxOutput: 64_000, pricing: { inputPerMillion: 3, outputPerMillion: 15 }, thinking: true },
  { prefix: 'claude-3-5-sonnet', maxOutput: 8_192, pricing: { inputPerMillion: 3, outputPerMillion: 15 }, thinking: false },
  { prefix: 'claude-3-5-haiku', maxOutput: 8_192, pricing: { inputPerMillion: 0.8, outputPerMillion: 4 }, thinking: false },
  { prefix: 'claude-3-opus', maxOutput: 4_096, pricing: { inputPerMillion: 15, outputPerMillion: 75 }, thinking: false },
  { prefix: 'claude-3-haiku', maxOutput: 4_096, pricing: { inputPerMillion: 0.25, outputPerMillion: 1.25 }, thinking: false },
];

/** Every Claude 3 and later model has a 200k-token context window. */
const CONTEXT_200K = /^claude-(3|opus-4|sonnet-4|haiku-4)/;

/** A `/v1/models` entry as a {@link ModelInfo}; limits and prices only where they are known. */
export function toModelInfo(m: WireModel): ModelInfo {
  const known = KNOWN.find((k) => m.id.startsWith(k.prefix));
  const capabilities: ModelCapabilities = {
    chat: true,
    vision: CONTEXT_200K.test(m.id),
    tools: true,
    embeddings: false,
    streaming: true,
    thinking: known?.thinking ?? false,
  };
  const info: ModelInfo = {
    id: `${PROVIDER}/${m.id}`,
    provider: PROVIDER,
    name: m.id,
    capabilities,
    pricing: known === undefined ? null : { ...known.pricing },
    local: false,
    family: 'claude',
  };
  if (CONTEXT_200K.test(m.id)) info.contextWindow = 200_000;
  if (known !== undefined) info.maxOutput = known.maxOutput;
  if (typeof m.created_at === 'string' && m.created_at !== '') info.modifiedAt = m.created_at;
  return info;
}
