/**
 * The one place where `omega serve` calls into the gateway.
 *
 * The server's front ends hand over a whole message list (a client sends its own history),
 * which `Gateway.handle`/`stream` do not take: they build the list from memory. Until the
 * gateway grows `chat(routed)` and `chatStream(routed)` (issue 10), this module implements
 * minimal versions of them on the gateway's public surface (`provider()`, `config`, `memory`):
 * fallback on retryable failures before the first chunk, an audit row per attempt, history
 * from memory when a conversation is named, and a cancelled stream stored as interrupted.
 * When the gateway has them, the bodies of {@link ServerGateway.chat} and
 * {@link ServerGateway.chatStream} become one-line delegations.
 */
import { ConfigError, ProviderError, redactSecrets } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { isModelProvider } from '../core/types.js';
import type {
  CallOptions,
  ChatChunk,
  ChatMessage,
  ChatRequest,
  Context,
  MessageMetadata,
  ModelProvider,
  OutgoingMessage,
  Provider,
  ToolCall,
  Usage,
} from '../core/types.js';
import { enabledProviders, isProviderName } from '../gateway/factory.js';
import type { Gateway, GatewayEvent } from '../gateway/gateway.js';
import type { AuditRecordInput } from '../gateway/memory/sqlite.js';

export type { GatewayEvent };

/** One chat request routed by the gateway: a full message list (not memory-built), for server front ends. */
export interface RoutedChat {
  /** `request.model`: a bare model name for the chosen provider; unset = that provider's configured model. */
  request: ChatRequest;
  /** Explicit provider (from `provider/model`); unset = the default provider, with fallback. */
  provider?: string;
  /** Set: history from memory is put before the messages, and the exchange is stored. */
  conversationId?: string;
  /** Where the request came from, e.g. `serve:openai`. */
  channel: string;
  /** The client's address. */
  sender: string;
}

/** A finished answer with the gateway's metadata (`providerUsed`, `fallbackFrom`, ...). */
export type GatewayAnswer = OutgoingMessage;

interface Attempt {
  name: string;
  model?: string;
  started: number;
}

function errorCode(error: unknown): string {
  if (error instanceof ProviderError) return error.code;
  if (error instanceof Error && error.name === 'AbortError') return 'aborted';
  return 'error';
}

function shouldFallBack(error: unknown, signal: AbortSignal | undefined): boolean {
  return error instanceof ProviderError && error.retryable && error.code !== 'aborted' && signal?.aborted !== true;
}

function configuredModel(provider: Provider): string | undefined {
  const model = (provider as Provider & { model?: unknown }).model;
  return typeof model === 'string' && model !== '' ? model : undefined;
}

function usageOf(meta: MessageMetadata): Usage {
  const usage: Usage = {};
  if (meta.promptTokens !== undefined) usage.promptTokens = meta.promptTokens;
  if (meta.completionTokens !== undefined) usage.completionTokens = meta.completionTokens;
  if (meta.tokensUsed !== undefined) usage.totalTokens = meta.tokensUsed;
  return usage;
}

/** Whatever arrived of a streamed answer. */
interface Received {
  text: string;
  thinking: string;
  toolCalls: ToolCall[];
  model?: string;
  final?: ChatChunk;
}

/** The server's view of the gateway: routing, fallback, memory and audit for whole message lists. */
export class ServerGateway {
  constructor(
    /** The gateway whose providers, config and memory are used. */
    readonly gateway: Gateway,
    private readonly logger: Logger,
  ) {}

  /** Names of the enabled providers, the default first. */
  providers(): string[] {
    const config = this.gateway.config;
    const names = enabledProviders(config).map(String);
    const def = config.provider.default;
    return [def, ...names.filter((n) => n !== def)];
  }

  /** The default provider's name. */
  get defaultProvider(): string {
    return this.gateway.config.provider.default;
  }

  /** The provider called `name`; a ConfigError when it is unknown or disabled. */
  provider(name: string): Provider {
    return this.gateway.provider(name);
  }

  /** True when `name` is a provider this server may route to. */
  isEnabled(name: string): boolean {
    return isProviderName(name) && this.gateway.config.provider[name].enabled;
  }

  /** Answers a routed chat in one piece, falling back along `[provider] fallback` when it may help. */
  async chat(routed: RoutedChat, options: CallOptions = {}): Promise<GatewayAnswer> {
    const request = this.withHistory(routed);
    const failures: { name: string; error: unknown }[] = [];
    const candidates = this.candidates(routed);
    for (const [index, name] of candidates.entries()) {
      const provider = this.candidate(name, index === 0);
      if (provider === undefined) continue;
      const req = index === 0 ? request : withoutModel(request);
      const attempt = this.attempt(name, provider, req.model);
      try {
        const answer = await this.callOnce(name, provider, req, options, attempt, failures);
        this.store(routed, answer, attempt, false);
        return answer;
      } catch (error) {
        this.auditFailure(routed, attempt, error);
        if (!shouldFallBack(error, options.signal)) throw error;
        if (index < candidates.length - 1) this.logger.warn({ provider: name, code: errorCode(error) }, 'provider failed; trying the next one');
        failures.push({ name, error });
      }
    }
    throw exhausted(failures);
  }

  /**
   * Streams a routed chat: `chunk` events as they arrive, then `done`. Fallback happens only
   * before the first chunk. A consumer that stops reading (client gone) or a failure mid-answer
   * stores and audits what arrived, marked interrupted.
   */
  async *chatStream(routed: RoutedChat, options: CallOptions = {}): AsyncGenerator<GatewayEvent, void, undefined> {
    const request = this.withHistory(routed);
    const failures: { name: string; error: unknown }[] = [];
    const candidates = this.candidates(routed);
    for (const [index, name] of candidates.entries()) {
      const provider = this.candidate(name, index === 0);
      if (provider === undefined) continue;
      const req = index === 0 ? request : withoutModel(request);
      const attempt = this.attempt(name, provider, req.model);
      const partial: Received = { text: '', thinking: '', toolCalls: [] };
      let yielded = false;
      let settled = false;
      try {
        if (isModelProvider(provider)) {
          for await (const chunk of provider.chatStream(req, options)) {
            partial.text += chunk.content;
            if (chunk.thinking !== undefined) partial.thinking += chunk.thinking;
            if (chunk.toolCalls !== undefined) partial.toolCalls.push(...chunk.toolCalls);
            if (chunk.model !== undefined && chunk.model !== '') partial.model = chunk.model;
            if (chunk.done) partial.final = chunk;
            yielded = true;
            yield { type: 'chunk', provider: name, chunk };
          }
        } else {
          const answer = await this.callOnce(name, provider, req, options, attempt, failures);
          const chunk: ChatChunk = { content: answer.text, done: true, doneReason: answer.metadata.doneReason ?? 'stop', usage: usageOf(answer.metadata) };
          if (answer.thinking !== undefined) chunk.thinking = answer.thinking;
          if (answer.toolCalls !== undefined) chunk.toolCalls = answer.toolCalls;
          partial.text = answer.text;
          partial.final = chunk;
          yielded = true;
          yield { type: 'chunk', provider: name, chunk };
        }
        if (partial.final === undefined && options.signal?.aborted === true) {
          throw new ProviderError({ provider: name, code: 'aborted', message: 'The request was cancelled.' });
        }
        settled = true;
      } catch (error) {
        settled = true;
        if (!yielded) {
          this.auditFailure(routed, attempt, error);
          if (!shouldFallBack(error, options.signal)) throw error;
          if (index < candidates.length - 1) this.logger.warn({ provider: name, code: errorCode(error) }, 'provider failed; trying the next one');
          failures.push({ name, error });
          continue;
        }
        this.safeStore(routed, finish(attempt, partial, failures, 'interrupted'), attempt, true, error);
        throw error;
      } finally {
        if (!settled) {
          // The consumer left: the client hung up or the server is shutting down.
          const cut = partial.final === undefined;
          const error = cut ? new ProviderError({ provider: name, code: 'aborted', message: 'The client stopped reading the answer.' }) : undefined;
          this.safeStore(routed, finish(attempt, partial, failures, cut ? 'interrupted' : undefined), attempt, cut, error);
        }
      }
      const answer = finish(attempt, partial, failures);
      this.safeStore(routed, answer, attempt, false);
      yield { type: 'done', message: answer };
      return;
    }
    throw exhausted(failures);
  }

  /**
   * Audits an exchange the server relayed to a provider byte for byte (the Ollama front end's
   * pass-through to the Ollama provider), as {@link chat} audits its own attempts.
   */
  auditRelay(
    routed: RoutedChat,
    r: { provider: string; model: string; started: number; outcome: string; errorMessage?: string; promptTokens?: number; completionTokens?: number },
  ): void {
    const memory = this.gateway.memory;
    if (memory === null) return;
    const record = this.auditRecord(routed, { name: r.provider, model: r.model, started: r.started }, r.outcome);
    if (r.outcome !== 'ok') {
      record.errorCode = r.outcome;
      if (r.errorMessage !== undefined) record.errorMessage = redactSecrets(r.errorMessage);
    }
    if (r.promptTokens !== undefined) record.promptTokens = r.promptTokens;
    if (r.completionTokens !== undefined) record.completionTokens = r.completionTokens;
    try {
      memory.audit(record);
    } catch (memoryError) {
      this.logger.error({ err: String(memoryError) }, 'could not write the audit record of a relayed exchange');
    }
  }

  /** Closes the gateway's providers and memory. */
  async close(): Promise<void> {
    await this.gateway.close();
  }

  // ---- internals --------------------------------------------------------------------------

  private candidates(routed: RoutedChat): string[] {
    const config = this.gateway.config;
    if (routed.provider !== undefined && routed.provider !== '') return [routed.provider];
    const names = [config.provider.default];
    for (const name of config.provider.fallback) {
      if (!names.includes(name) && this.isEnabled(name)) names.push(name);
    }
    return names;
  }

  private candidate(name: string, primary: boolean): Provider | undefined {
    if (primary) return this.gateway.provider(name);
    try {
      return this.gateway.provider(name);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      this.logger.warn({ provider: name, err: error.message }, 'fallback provider unusable; skipped');
      return undefined;
    }
  }

  private attempt(name: string, provider: Provider, model: string | undefined): Attempt {
    const attempt: Attempt = { name, started: performance.now() };
    const m = model ?? configuredModel(provider);
    if (m !== undefined) attempt.model = m;
    return attempt;
  }

  /** The request with the conversation's stored history after any leading system messages. */
  private withHistory(routed: RoutedChat): ChatRequest {
    const memory = this.gateway.memory;
    if (routed.conversationId === undefined || memory === null) return routed.request;
    const history = memory.history(routed.conversationId, this.gateway.config.memory.maxContextMessages);
    if (history.length === 0) return routed.request;
    const messages = routed.request.messages;
    let lead = 0;
    while (lead < messages.length && messages[lead]?.role === 'system') lead++;
    return { ...routed.request, messages: [...messages.slice(0, lead), ...history, ...messages.slice(lead)] };
  }

  private async callOnce(
    name: string,
    provider: Provider,
    request: ChatRequest,
    options: CallOptions,
    attempt: Attempt,
    failures: { name: string }[],
  ): Promise<GatewayAnswer> {
    const fallbackFrom = failures.map((f) => f.name);
    if (isModelProvider(provider)) {
      const res = await (provider as ModelProvider).chat(request, options);
      const metadata: MessageMetadata = {
        providerUsed: name,
        model: res.model || attempt.model || '',
        processingTimeMs: Math.round(performance.now() - attempt.started),
      };
      if (res.usage.promptTokens !== undefined) metadata.promptTokens = res.usage.promptTokens;
      if (res.usage.completionTokens !== undefined) metadata.completionTokens = res.usage.completionTokens;
      const total = res.usage.totalTokens ?? (res.usage.promptTokens !== undefined || res.usage.completionTokens !== undefined ? (res.usage.promptTokens ?? 0) + (res.usage.completionTokens ?? 0) : undefined);
      if (total !== undefined) metadata.tokensUsed = total;
      if (res.doneReason !== undefined) metadata.doneReason = res.doneReason;
      if (Object.keys(res.timings).length > 0) metadata.timings = res.timings;
      if (fallbackFrom.length > 0) metadata.fallbackFrom = fallbackFrom;
      const answer: GatewayAnswer = { text: res.message.content, metadata };
      if (res.message.thinking !== undefined && res.message.thinking !== '') answer.thinking = res.message.thinking;
      if (res.message.toolCalls !== undefined && res.message.toolCalls.length > 0) answer.toolCalls = res.message.toolCalls;
      return answer;
    }
    const answer = await provider.complete(toContext(request), options);
    const metadata: MessageMetadata = { ...answer.metadata, providerUsed: name, processingTimeMs: Math.round(performance.now() - attempt.started) };
    if (fallbackFrom.length > 0) metadata.fallbackFrom = fallbackFrom;
    return { ...answer, metadata };
  }

  private auditRecord(routed: RoutedChat, attempt: Attempt, outcome: string): AuditRecordInput {
    const record: AuditRecordInput = {
      channel: routed.channel,
      conversationId: routed.conversationId ?? '',
      sender: routed.sender,
      provider: attempt.name,
      outcome,
      durationMs: Math.round(performance.now() - attempt.started),
    };
    if (attempt.model !== undefined) record.model = attempt.model;
    return record;
  }

  private auditFailure(routed: RoutedChat, attempt: Attempt, error: unknown): void {
    const memory = this.gateway.memory;
    if (memory === null) return;
    const code = errorCode(error);
    try {
      memory.audit({ ...this.auditRecord(routed, attempt, code), errorCode: code, errorMessage: redactSecrets(error instanceof Error ? error.message : String(error)) });
    } catch (memoryError) {
      this.logger.error({ err: String(memoryError) }, 'could not write the audit record of a failed attempt');
    }
  }

  private safeStore(routed: RoutedChat, answer: GatewayAnswer, attempt: Attempt, interrupted: boolean, failure?: unknown): void {
    try {
      this.store(routed, answer, attempt, interrupted, failure);
    } catch (memoryError) {
      // The answer (or the provider's failure) is what the client must get; storage failure is logged.
      this.logger.error({ err: String(memoryError) }, 'could not store the exchange');
    }
  }

  /** The exchange (with a conversation) or just its audit row (without), in one transaction. */
  private store(routed: RoutedChat, answer: GatewayAnswer, attempt: Attempt, interrupted: boolean, failure?: unknown): void {
    if (routed.conversationId !== undefined) answer.replyTarget = routed.conversationId;
    const memory = this.gateway.memory;
    if (memory === null) return;
    const meta = answer.metadata;
    const outcome = failure === undefined ? 'ok' : errorCode(failure);
    const audit: AuditRecordInput = { ...this.auditRecord(routed, { ...attempt, model: meta.model || attempt.model }, outcome), durationMs: meta.processingTimeMs };
    if (failure !== undefined) {
      audit.errorCode = outcome;
      audit.errorMessage = redactSecrets(failure instanceof Error ? failure.message : String(failure));
    }
    if (meta.promptTokens !== undefined) audit.promptTokens = meta.promptTokens;
    if (meta.completionTokens !== undefined) audit.completionTokens = meta.completionTokens;
    const last = routed.request.messages.at(-1);
    if (routed.conversationId === undefined || last === undefined) {
      memory.audit(audit);
      return;
    }
    const assistant: ChatMessage = { role: 'assistant', content: answer.text };
    if (answer.thinking !== undefined && answer.thinking !== '') assistant.thinking = answer.thinking;
    if (answer.toolCalls !== undefined && answer.toolCalls.length > 0) assistant.toolCalls = answer.toolCalls;
    memory.saveExchange({
      conversationId: routed.conversationId,
      channel: routed.channel,
      sender: routed.sender,
      user: { ...last, images: undefined } as ChatMessage,
      assistant,
      metadata: meta,
      interrupted,
      audit,
    });
  }
}

function withoutModel(request: ChatRequest): ChatRequest {
  if (request.model === undefined) return request;
  const { model: _model, ...rest } = request;
  return rest;
}

/** The finished (or cut-short) answer of a stream. */
function finish(attempt: Attempt, partial: Received, failures: { name: string }[], doneReason?: string): GatewayAnswer {
  const final = partial.final;
  const metadata: MessageMetadata = {
    providerUsed: attempt.name,
    model: partial.model ?? attempt.model ?? '',
    processingTimeMs: Math.round(performance.now() - attempt.started),
    doneReason: doneReason ?? (final === undefined ? 'incomplete' : (final.doneReason ?? 'stop')),
  };
  const usage = final?.usage;
  if (usage?.promptTokens !== undefined) metadata.promptTokens = usage.promptTokens;
  if (usage?.completionTokens !== undefined) metadata.completionTokens = usage.completionTokens;
  if (usage !== undefined && (usage.totalTokens !== undefined || usage.promptTokens !== undefined || usage.completionTokens !== undefined)) {
    metadata.tokensUsed = usage.totalTokens ?? (usage.promptTokens ?? 0) + (usage.completionTokens ?? 0);
  }
  if (final?.timings !== undefined && Object.keys(final.timings).length > 0) metadata.timings = final.timings;
  if (failures.length > 0) metadata.fallbackFrom = failures.map((f) => f.name);
  const answer: GatewayAnswer = { text: partial.text, metadata };
  if (partial.thinking !== '') answer.thinking = partial.thinking;
  if (partial.toolCalls.length > 0) answer.toolCalls = [...partial.toolCalls];
  return answer;
}

/** A message list as a {@link Context}, for providers that only `complete()`. */
function toContext(request: ChatRequest): Context {
  const system = request.messages.filter((m) => m.role === 'system').map((m) => m.content);
  const rest = request.messages.filter((m) => m.role !== 'system');
  const last = rest.at(-1);
  const context: Context = { systemPrompt: system.join('\n\n'), history: rest.slice(0, -1), currentMessage: last?.content ?? '' };
  if (request.model !== undefined) context.model = request.model;
  return context;
}

/** The error once every candidate failed retryably: the first failure, naming the others. */
function exhausted(failures: { name: string; error: unknown }[]): unknown {
  const first = failures[0];
  if (first === undefined) return new ConfigError({ message: 'No provider is enabled; set `[provider.ollama] enabled = true`.' });
  if (failures.length === 1 || !(first.error instanceof ProviderError)) return first.error;
  const e = first.error;
  const others = failures
    .slice(1)
    .map((f) => `${f.name} (${errorCode(f.error)})`)
    .join(', ');
  return new ProviderError({
    provider: e.provider,
    code: e.code,
    message: `${e.message.replace(/[.\s]+$/, '')}; the fallback providers failed too: ${others}.`,
    retryable: e.retryable,
    ...(e.status === undefined ? {} : { status: e.status }),
    ...(e.retryAfterMs === undefined ? {} : { retryAfterMs: e.retryAfterMs }),
    cause: new AggregateError(
      failures.map((f) => f.error),
      'every provider failed',
    ),
  });
}
