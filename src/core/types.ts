/**
 * The provider contract: the types every provider implements and the gateway calls.
 *
 * This module knows nothing of HTTP or of any one provider's wire format; a provider
 * translates between these shapes and its own.
 */

/** Who wrote a message in a conversation. */
export type Role = 'system' | 'user' | 'assistant' | 'tool';

/** One tool invocation requested by the model. */
export interface ToolCall {
  /** Provider-assigned id, when the provider has one (OpenAI, Anthropic; Ollama >= 0.12). */
  id?: string;
  /** Position of the call within one response, when reported. */
  index?: number;
  /** The tool's name, as declared in {@link ToolDefinition}. */
  name: string;
  /** Parsed arguments. Always an object, never a JSON string. */
  arguments: Record<string, unknown>;
}

/** A JSON Schema object, kept opaque: providers forward it as is. */
export type JsonSchema = { [key: string]: unknown };

/** A function the model may call. */
export interface ToolDefinition {
  type: 'function';
  function: {
    name: string;
    description?: string;
    /** JSON Schema of the arguments object. */
    parameters?: JsonSchema;
  };
}

/** One message of a conversation. */
export interface ChatMessage {
  role: Role;
  content: string;
  /** Base64-encoded images (a `data:...;base64,` prefix is accepted and stripped by providers). */
  images?: string[];
  /** The model's reasoning, kept apart from the answer. */
  thinking?: string;
  /** Tool calls requested by an assistant message. */
  toolCalls?: ToolCall[];
  /** For `role: 'tool'`: which tool produced this result. */
  toolName?: string;
  /** For `role: 'tool'`: the id of the call this result answers, where the provider uses ids. */
  toolCallId?: string;
}

/** Everything a {@link Provider} needs to answer one turn. */
export interface Context {
  /** Sent as a leading system message when non-empty. */
  systemPrompt: string;
  /** Earlier turns, oldest first. */
  history: ChatMessage[];
  /** The user's new message. */
  currentMessage: string;
  /** Overrides the provider's configured model for this call only. */
  model?: string;
}

/** Token counts of one exchange. */
export interface Usage {
  promptTokens?: number;
  completionTokens?: number;
  /** promptTokens + completionTokens. */
  totalTokens?: number;
}

/** Server-side timings, in milliseconds, where the provider reports them. */
export interface Timings {
  /** Whole request as measured by the server. */
  totalMs?: number;
  /** Time spent loading the model. */
  loadMs?: number;
  /** Time spent evaluating the prompt. */
  promptEvalMs?: number;
  /** Time spent generating. */
  evalMs?: number;
  /** Prompt tokens per second. */
  promptTokensPerSecond?: number;
  /** Generated tokens per second. */
  tokensPerSecond?: number;
}

/**
 * Why generation stopped. Providers pass their own values through (`stop`, `length`,
 * `load`, `unload`, `tool_calls`, ...); `incomplete` means the stream ended without a
 * final chunk, `interrupted` that the caller cancelled it.
 */
export type DoneReason = 'stop' | 'length' | 'incomplete' | 'interrupted' | (string & {});

/** What the caller learns about how an answer was produced. */
export interface MessageMetadata {
  /** Name of the provider that answered (after any fallback). */
  providerUsed: string;
  /** Model as reported by the provider. */
  model: string;
  /** Wall-clock time of the call on the client. */
  processingTimeMs: number;
  /** promptTokens + completionTokens. */
  tokensUsed?: number;
  promptTokens?: number;
  completionTokens?: number;
  doneReason?: DoneReason;
  /** Server-side timings, where reported. */
  timings?: Timings;
  /**
   * The server cut the prompt to fit its context window without saying so (servers that cannot
   * refuse an oversized prompt, e.g. Ollama before 0.12.6): the answer saw only part of it.
   */
  truncated?: boolean;
  /** For a provider that routes among several servers (an Ollama fleet): the server that answered. */
  host?: string;
  /** For such a provider: every server tried for this answer, in order, the last one answered. */
  hostAttempts?: HostAttempt[];
}

/** One server tried for one answer by a provider that routes among several (an Ollama fleet). */
export interface HostAttempt {
  /** The server's base URL. */
  host: string;
  /** `ok`, or the failure's {@link ProviderErrorCode}. */
  outcome: string;
  /** Wall time of this attempt, in milliseconds. */
  ms: number;
  /** The failure's message, for failed attempts. */
  error?: string;
}

/**
 * A finished answer. The gateway's envelope (`replyTarget`, `fallbackFrom`) is not part of it:
 * see `GatewayAnswer` in the gateway.
 */
export interface OutgoingMessage {
  text: string;
  metadata: MessageMetadata;
  thinking?: string;
  toolCalls?: ToolCall[];
}

/** What a model can do. */
export interface ModelCapabilities {
  chat: boolean;
  vision: boolean;
  tools: boolean;
  embeddings: boolean;
  streaming: boolean;
  thinking: boolean;
  /** Generates images (Ollama's `image` capability, 0.14 and later); set only when true. */
  imageGeneration?: boolean;
}

/** Price in US dollars per million tokens. */
export interface Pricing {
  inputPerMillion: number;
  outputPerMillion: number;
}

/** A model a provider can serve. */
export interface ModelInfo {
  /** Unique across providers: `<provider>/<name>`. */
  id: string;
  provider: string;
  /** The name to pass as `model`. */
  name: string;
  /** Trained maximum context, in tokens. */
  contextWindow?: number;
  maxOutput?: number;
  capabilities: ModelCapabilities;
  /** `null` for local models, which cost nothing per token. */
  pricing: Pricing | null;
  /** True when the model runs on the user's machine (or their own server). */
  local: boolean;
  /** For a model that runs elsewhere behind a local name (an Ollama cloud model): where it runs. */
  remoteHost?: string;
  /** For such a model: its name at {@link remoteHost}. */
  remoteModel?: string;
  sizeBytes?: number;
  /** ISO 8601. */
  modifiedAt?: string;
  family?: string;
  /** e.g. `8.0B`. */
  parameterSize?: string;
  /** e.g. `Q4_K_M`. */
  quantization?: string;
  /** Content digest, where the provider has one. */
  digest?: string;
  /** For a provider that routes among several servers (an Ollama fleet): the servers that have this model. */
  hosts?: string[];
  /** For such a provider: the servers where the model is loaded in memory now. */
  loadedOn?: string[];
  /**
   * Set when this provider lists the model but cannot run it (a cloud stub or a multimodal model
   * in Ollama's store, seen by the embedded engine): one sentence saying why.
   */
  unsupported?: string;
}

/**
 * Per-phase time limits in milliseconds. `0` disables a phase.
 *
 * Phases exist because one number cannot serve both a 2 s connect and a 10 min cold load.
 */
export interface Timeouts {
  /** Establishing the TCP/TLS connection. */
  connectMs: number;
  /** From request sent to the first byte of the response: covers model loading. */
  loadMs: number;
  /** The longest silence between two chunks of a streamed body. */
  idleMs: number;
  /** The whole call, end to end. `0` = no limit. */
  requestMs: number;
}

/** Generation options; known keys are typed, others pass through to the provider. */
export interface GenerationOptions {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  seed?: number;
  num_ctx?: number;
  num_predict?: number;
  stop?: string[];
  repeat_penalty?: number;
  repeat_last_n?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  [key: string]: unknown;
}

/** How hard a model should think: a switch, or a level where the provider supports one. */
export type ThinkSetting = boolean | 'low' | 'medium' | 'high';

/** Options every call accepts. */
export interface CallOptions {
  /** Cancels this call only. */
  signal?: AbortSignal;
  /** Overrides the provider's configured timeouts for this call. */
  timeouts?: Partial<Timeouts>;
  /**
   * Keeps related calls on the same server (the gateway passes the conversation id), for
   * providers that route among several; others ignore it.
   */
  stickyKey?: string;
}

/** A chat request in the provider-neutral shape. */
export interface ChatRequest {
  /** Defaults to the provider's configured model. */
  model?: string;
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  /** `'json'` for any JSON, or a JSON Schema the answer must match. */
  format?: 'json' | JsonSchema;
  think?: ThinkSetting;
  options?: GenerationOptions;
  /**
   * How long the model stays loaded afterwards (`'5m'`, seconds as a number, `0` to unload,
   * negative to keep forever). Unset leaves the server's default in force.
   */
  keepAlive?: string | number;
  /**
   * What to do with a prompt longer than the context window: `true` drops its oldest part (the
   * server's default), `false` fails instead. Ollama 0.12.6 and later; older servers ignore it.
   */
  truncate?: boolean;
  /**
   * What to do when the answer fills the context window: `true` shifts the window and goes on
   * (the server's default), `false` stops with `doneReason: 'length'`. Ollama 0.12.6 and later.
   */
  shift?: boolean;
  /** Return the log probability of each generated token (Ollama 0.12.11 and later). */
  logprobs?: boolean;
  /** With {@link logprobs}: also the N most likely alternatives at each position, 0 to 20. */
  topLogprobs?: number;
  /**
   * The caller's count of the prompt's tokens, when it knows better than the provider's own
   * estimate (the gateway does, from the counts it stored). Used to size the context window and
   * to tell a silently truncated prompt; never sent.
   */
  promptTokens?: number;
}

/** A token's log probability, one alternative at one position. */
export interface TokenAlternative {
  token: string;
  logprob: number;
  /** The token's UTF-8 bytes, where the server reports them (a token may end mid-character). */
  bytes?: number[];
}

/** The log probability of one generated token, with its most likely alternatives when asked for. */
export interface TokenLogprob extends TokenAlternative {
  topLogprobs?: TokenAlternative[];
}

/** A non-streamed chat answer. */
export interface ChatResponse {
  message: ChatMessage & { role: 'assistant' };
  model: string;
  doneReason?: DoneReason;
  usage: Usage;
  timings: Timings;
  /** Client wall-clock time of the call. */
  processingTimeMs: number;
  /** Per-token log probabilities, when the request asked for them. */
  logprobs?: TokenLogprob[];
  /** The server cut the prompt to its context window without saying so; see {@link MessageMetadata.truncated}. */
  truncated?: boolean;
  /** The context window (in tokens) the server was asked to use for this answer, when the provider set it. */
  contextLength?: number;
  /** The server that answered, for providers that route among several; see {@link MessageMetadata.host}. */
  host?: string;
  /** Every server tried for this answer; see {@link MessageMetadata.hostAttempts}. */
  hostAttempts?: HostAttempt[];
}

/** One piece of a streamed answer. Deltas are to be concatenated in order. */
export interface ChatChunk {
  /** Text delta (may be empty). */
  content: string;
  /** Reasoning delta, when the model thinks. */
  thinking?: string;
  /** Tool calls completed in this chunk. */
  toolCalls?: ToolCall[];
  done: boolean;
  /** Present on the final chunk. */
  doneReason?: DoneReason;
  /** Present on the final chunk. */
  usage?: Usage;
  /** Present on the final chunk. */
  timings?: Timings;
  /** Model as reported by the provider. */
  model?: string;
  /** Log probabilities of the tokens in this chunk, when the request asked for them. */
  logprobs?: TokenLogprob[];
  /** On the final chunk: the server cut the prompt without saying so; see {@link MessageMetadata.truncated}. */
  truncated?: boolean;
  /** On the final chunk: the context window the server was asked to use, when the provider set it. */
  contextLength?: number;
  /** On the final chunk: the server that answered, for providers that route among several. */
  host?: string;
  /** On the final chunk: every server tried for this answer; see {@link MessageMetadata.hostAttempts}. */
  hostAttempts?: HostAttempt[];
}

/** The context window a provider will use for a model, and where that number comes from. */
export interface ContextWindow {
  /** Tokens the model's context holds on the next request (prompt and answer together). */
  tokens: number;
  /**
   * The most the provider may grow the window to for a longer prompt (`context = "auto"`);
   * equal to {@link tokens} when the window is fixed.
   */
  limit: number;
  /** The model's trained maximum, when known. */
  trained?: number;
  /** Tokens the provider keeps for the answer on its own (a configured `num_predict`). */
  answerTokens?: number;
  /**
   * Where {@link tokens} comes from: the caller's `num_ctx`, the provider's sizing, the model as
   * loaded now, the server's default, or the model's trained length.
   */
  source: 'options' | 'auto' | 'loaded' | 'server-default' | 'trained';
}

/** The minimal provider: turns a conversation into an answer. */
export interface Provider {
  /** Stable identifier used in config and metadata, e.g. `ollama`. */
  readonly name: string;
  /** Whether the provider needs an API key to work at all. */
  readonly requiresApiKey: boolean;
  /** Answers the current message of `context`. */
  complete(context: Context, options?: CallOptions): Promise<OutgoingMessage>;
  /** Cheap reachability check. Never throws: any failure is `false`. */
  isAvailable(options?: { signal?: AbortSignal }): Promise<boolean>;
}

/**
 * A provider with its models and a full chat API: everything the gateway uses, so the gateway
 * needs no run-time capability checks. A {@link Provider} that only completes becomes one through
 * {@link chatOverComplete}.
 */
export interface ModelProvider extends Provider {
  /** Model used when a request names none; `undefined` when the provider's own default applies. */
  readonly model: string | undefined;
  /**
   * Providers whose model names this one answers to (the embedded engine reads Ollama's store):
   * as their fallback, the gateway gives it the model the first provider was asked for.
   */
  readonly servesModelsOf?: readonly string[];
  listModels(options?: CallOptions): Promise<ModelInfo[]>;
  chat(request: ChatRequest, options?: CallOptions): Promise<ChatResponse>;
  /** Leaving the `for await` loop early cancels the underlying request. */
  chatStream(request: ChatRequest, options?: CallOptions): AsyncIterable<ChatChunk>;
  /** Releases connections and child processes at once; in-flight calls fail with `aborted`. */
  close(): Promise<void>;
  /**
   * The context window the next request for `model` will get, for providers that know it
   * (Ollama); the gateway fits history into it. Absent or `undefined`: no token budget applies.
   */
  contextWindowFor?(model: string, options?: CallOptions): Promise<ContextWindow | undefined>;
}

/** True when `provider` implements {@link ModelProvider}. */
export function isModelProvider(provider: Provider): provider is ModelProvider {
  const p = provider as Partial<ModelProvider>;
  return (
    typeof p.listModels === 'function' &&
    typeof p.chat === 'function' &&
    typeof p.chatStream === 'function' &&
    typeof p.close === 'function'
  );
}

/** Turns a {@link Context} into the message list a chat API expects. */
export function contextToMessages(context: Context): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (context.systemPrompt.trim() !== '') messages.push({ role: 'system', content: context.systemPrompt });
  messages.push(...context.history);
  messages.push({ role: 'user', content: context.currentMessage });
  return messages;
}

/** The metadata of a chat answer as {@link Provider.complete} reports it. */
export function chatMetadata(provider: string, res: ChatResponse): MessageMetadata {
  const meta: MessageMetadata = { providerUsed: provider, model: res.model, processingTimeMs: res.processingTimeMs };
  if (res.usage.totalTokens !== undefined) meta.tokensUsed = res.usage.totalTokens;
  if (res.usage.promptTokens !== undefined) meta.promptTokens = res.usage.promptTokens;
  if (res.usage.completionTokens !== undefined) meta.completionTokens = res.usage.completionTokens;
  if (res.doneReason !== undefined) meta.doneReason = res.doneReason;
  if (Object.keys(res.timings).length > 0) meta.timings = res.timings;
  if (res.truncated === true) meta.truncated = true;
  if (res.host !== undefined) meta.host = res.host;
  if (res.hostAttempts !== undefined) meta.hostAttempts = res.hostAttempts;
  return meta;
}

/**
 * {@link Provider.complete} on top of {@link ModelProvider.chat}: the context becomes messages,
 * `context.model` overrides the provider's model, and the answer keeps thinking and tool calls.
 * Every chat API completes this way; only the wire behind `chat` differs.
 */
export async function completeWithChat(
  provider: Pick<ModelProvider, 'name' | 'chat'>,
  context: Context,
  options?: CallOptions,
): Promise<OutgoingMessage> {
  const request: ChatRequest = { messages: contextToMessages(context) };
  if (context.model !== undefined && context.model !== '') request.model = context.model;
  const res = await provider.chat(request, options);
  const out: OutgoingMessage = { text: res.message.content, metadata: chatMetadata(provider.name, res) };
  if (res.message.thinking !== undefined) out.thinking = res.message.thinking;
  if (res.message.toolCalls !== undefined) out.toolCalls = res.message.toolCalls;
  return out;
}

/** Splits a message list back into a {@link Context}: leading system messages, history, the last user message. */
export function messagesToContext(messages: readonly ChatMessage[], model?: string): Context {
  let start = 0;
  while (start < messages.length && messages[start]?.role === 'system') start++;
  const system = messages.slice(0, start).map((m) => m.content);
  const rest = messages.slice(start);
  const last = rest[rest.length - 1];
  const current = last !== undefined && last.role === 'user' ? last.content : '';
  const context: Context = {
    systemPrompt: system.join('\n\n'),
    history: last !== undefined && last.role === 'user' ? rest.slice(0, -1) : rest,
    currentMessage: current,
  };
  if (model !== undefined && model !== '') context.model = model;
  return context;
}

/**
 * A {@link Provider} that only completes, as a {@link ModelProvider}: `chat` and `chatStream` go
 * through `complete()` (the stream is one final chunk), it lists no models, and closing it is left
 * to its owner. Images and `think` are not passed, since `complete()` takes neither.
 */
export function chatOverComplete(provider: Provider, model?: string): ModelProvider {
  const chat = async (request: ChatRequest, options?: CallOptions): Promise<ChatResponse> => {
    const answer = await provider.complete(messagesToContext(request.messages, request.model), options);
    const m = answer.metadata;
    const message: ChatResponse['message'] = { role: 'assistant', content: answer.text };
    if (answer.thinking !== undefined) message.thinking = answer.thinking;
    if (answer.toolCalls !== undefined) message.toolCalls = answer.toolCalls;
    const usage: Usage = {};
    if (m.promptTokens !== undefined) usage.promptTokens = m.promptTokens;
    if (m.completionTokens !== undefined) usage.completionTokens = m.completionTokens;
    if (m.tokensUsed !== undefined) usage.totalTokens = m.tokensUsed;
    const res: ChatResponse = { message, model: m.model, usage, timings: m.timings ?? {}, processingTimeMs: m.processingTimeMs };
    if (m.doneReason !== undefined) res.doneReason = m.doneReason;
    return res;
  };
  return {
    name: provider.name,
    requiresApiKey: provider.requiresApiKey,
    model,
    complete: (context, options) => provider.complete(context, options),
    isAvailable: (options) => provider.isAvailable(options),
    listModels: async () => [],
    chat,
    chatStream: (request, options) => responseAsChunks(chat(request, options)),
    close: async () => undefined,
  };
}

/** A whole answer as a stream of one final chunk. */
export async function* responseAsChunks(response: Promise<ChatResponse>): AsyncGenerator<ChatChunk, void, undefined> {
  const res = await response;
  const chunk: ChatChunk = { content: res.message.content, done: true, doneReason: res.doneReason ?? 'stop', usage: res.usage };
  if (res.model !== '') chunk.model = res.model;
  if (res.message.thinking !== undefined) chunk.thinking = res.message.thinking;
  if (res.message.toolCalls !== undefined) chunk.toolCalls = res.message.toolCalls;
  if (Object.keys(res.timings).length > 0) chunk.timings = res.timings;
  if (res.truncated === true) chunk.truncated = true;
  if (res.contextLength !== undefined) chunk.contextLength = res.contextLength;
  if (res.host !== undefined) chunk.host = res.host;
  if (res.hostAttempts !== undefined) chunk.hostAttempts = res.hostAttempts;
  yield chunk;
}
