/**
 * The gateway: turns an incoming message into an answer. It builds the context from memory,
 * calls the chosen provider, falls back along `[provider] fallback` when that provider is down
 * or fails in a way another provider may not, stores the exchange and audits every attempt.
 */
import { randomUUID } from 'node:crypto';
import { ConfigError, ProviderError, UsageError, redactSecrets } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import type { Logger } from '../core/logger.js';
import { contextToMessages, responseAsChunks } from '../core/types.js';
import { TokenEstimator, fitMessages } from '../core/context-fit.js';
import type {
  CallOptions,
  ChatChunk,
  ChatMessage,
  ChatRequest,
  Context,
  ContextWindow,
  DoneReason,
  HostAttempt,
  ModelProvider,
  ThinkSetting,
  Timings,
  ToolCall,
  Usage,
} from '../core/types.js';
import type { OmegaConfig } from '../config/types.js';
import { DEFAULT_ANSWER_RESERVE } from '../config/types.js';
import type { GatewayAnswer, GatewayMetadata } from './types.js';
import { buildProvider, disabledProviderError, isProviderName } from './factory.js';
import { SqliteMemory, SqliteStore } from './memory/sqlite.js';
import type { AuditRecordInput, HistoryEntry, TokenCount } from './memory/sqlite.js';
import { openMemoryStore } from './memory/open.js';
import type { MemoryStore } from './memory/store.js';

/** A message arriving at the gateway from some channel (the CLI, a chat REPL, ...). */
export interface IncomingMessage {
  /** Where the message came from, e.g. `cli`. */
  channel: string;
  /** Memory key: messages with the same id share history. */
  conversationId: string;
  /** Who sent it; recorded in memory and the audit trail. */
  sender: string;
  text: string;
  /** Overrides the model of the first provider tried (fallbacks use their configured model). */
  model?: string;
  /** Overrides `[provider] default`. */
  provider?: string;
  /** Overrides `[omega] system_prompt`. */
  systemPrompt?: string;
  think?: ThinkSetting;
  /** Base64 images sent with this message; not stored in memory. */
  images?: string[];
}

/**
 * A whole chat request routed by the gateway, as a server front end receives it: the client
 * sends the full message list, so memory adds history only when a conversation is named.
 */
export interface RoutedChat {
  /** `request.model` is the model for the chosen provider; fallbacks use their configured model. */
  request: ChatRequest;
  /** The provider to try first; `[provider] default` when unset. Fallback applies either way. */
  provider?: string;
  /** When set, the conversation's history from memory goes before `request.messages`, and the exchange is stored. */
  conversationId?: string;
  /** Where the request came from, e.g. `serve:openai`. */
  channel: string;
  /** Who sent it (a client address); recorded in the audit trail. */
  sender: string;
  /** Audit key of a request outside any conversation; a fresh id when unset. */
  requestId?: string;
}

/** What {@link Gateway.stream} yields: chunks as they arrive, then the finished answer. */
export type GatewayEvent =
  | { type: 'chunk'; provider: string; chunk: ChatChunk }
  | { type: 'done'; message: GatewayAnswer };

/** Construction options of {@link Gateway}. */
export interface GatewayOptions {
  config: OmegaConfig;
  /**
   * Conversation memory and audit trail; `null` or absent runs without either. Closed by
   * {@link Gateway.close}. A {@link SqliteMemory} is wrapped in a {@link SqliteStore}.
   */
  memory?: MemoryStore | SqliteMemory | null;
  logger?: Logger;
  /**
   * Providers by name, used instead of building them from config; their owner closes them. A
   * {@link Provider} that only completes can be given as `chatOverComplete(provider)`.
   */
  providers?: Record<string, ModelProvider>;
  /** The config file in use, named in errors about provider settings. */
  configFile?: string;
}

/** Options of {@link Gateway.open}. */
export interface GatewayOpenOptions {
  logger?: Logger;
  /** `false` runs without memory and audit. */
  memory?: boolean;
  configFile?: string;
  busyTimeoutMs?: number;
}

/** Whatever was received of an answer so far. */
interface Received {
  text: string;
  thinking: string;
  toolCalls: ToolCall[];
  model?: string;
  final?: ChatChunk;
}

interface Attempt {
  name: string;
  model?: string;
  started: number;
  /** How the prompt was fitted into the model's window, when a budget applied. */
  fit?: FitInfo;
}

/** The token budget applied to one attempt's prompt. */
interface FitInfo {
  window: ContextWindow;
  /** Tokens the prompt may use (the window's limit minus the answer's reserve). */
  budget: number;
  leftOut: number;
  /** Stored server counts plus calibrated estimates. */
  tokens: number;
  /** The calibration key, `<provider>/<model>`. */
  key: string;
  /** The messages sent. */
  messages: ChatMessage[];
}

/** What the `/context` command of `omega chat` shows: the window in use and what fills it. */
export interface ContextReport {
  provider: string;
  model?: string;
  /** Undefined when the provider does not say (hosted providers). */
  window?: ContextWindow;
  /** Tokens kept for the answer. */
  answerReserve: number;
  /** Messages the conversation has in memory (up to `[memory] max_context_messages`). */
  historyMessages: number;
  /** Those of them the next prompt would carry. */
  historySent: number;
  /** The next prompt's tokens (system prompt and history; the new message not yet included). */
  promptTokens: number;
  /** Whether the estimate is calibrated from this model's own counts. */
  calibrated: boolean;
  /** The last answer's metadata, when the conversation has one. */
  last?: GatewayMetadata;
}

/**
 * One unit of work for the fallback loop, whatever its source (a CLI message or a server
 * request): who asked, where to file it, and the request each candidate provider gets.
 */
interface Job {
  channel: string;
  sender: string;
  /** The audit key: the conversation, or a request id outside any conversation. */
  auditKey: string;
  /** Set when the exchange is stored in memory. */
  conversationId?: string;
  /** The first provider to try. */
  primary: string;
  /** The model for the first provider, when the caller chose one. */
  model?: string;
  /** The request for one attempt; `model` is the override for the first provider only. */
  request(model: string | undefined): ChatRequest;
  /** The message stored as the user's turn. */
  user: ChatMessage;
  /** Remembered history with its stored token counts (a message object maps to its entry). */
  entries: Map<ChatMessage, HistoryEntry>;
  /** Whether the history holds the whole conversation (not cut by `max_context_messages`). */
  wholeConversation: boolean;
}

/** Whether a failure says the prompt did not fit the model's context window. */
function isOverflow(error: unknown): error is ProviderError {
  return error instanceof ProviderError && error.code === 'context_overflow';
}

/** Whether another provider might succeed where this error happened. */
function shouldFallBack(error: unknown): boolean {
  return error instanceof ProviderError && error.retryable && error.code !== 'aborted';
}

function errorCode(error: unknown): string {
  if (error instanceof ProviderError) return error.code;
  if (error instanceof Error && error.name === 'AbortError') return 'aborted';
  return 'error';
}

function errorText(error: unknown): string {
  return redactSecrets(error instanceof Error ? error.message : String(error));
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

function totalTokens(usage: Usage | undefined): number | undefined {
  if (usage === undefined) return undefined;
  if (usage.totalTokens !== undefined) return usage.totalTokens;
  if (usage.promptTokens === undefined && usage.completionTokens === undefined) return undefined;
  return (usage.promptTokens ?? 0) + (usage.completionTokens ?? 0);
}

function buildMetadata(p: {
  provider: string;
  model: string;
  ms: number;
  usage?: Usage;
  doneReason?: DoneReason;
  timings?: Timings;
  fallbackFrom: string[];
  truncated?: boolean;
  contextLength?: number;
  fit?: FitInfo;
  host?: string;
  hostAttempts?: HostAttempt[];
}): GatewayMetadata {
  const metadata: GatewayMetadata = { providerUsed: p.provider, model: p.model, processingTimeMs: p.ms };
  const tokens = totalTokens(p.usage);
  if (tokens !== undefined) metadata.tokensUsed = tokens;
  if (p.usage?.promptTokens !== undefined) metadata.promptTokens = p.usage.promptTokens;
  if (p.usage?.completionTokens !== undefined) metadata.completionTokens = p.usage.completionTokens;
  if (p.doneReason !== undefined) metadata.doneReason = p.doneReason;
  if (p.timings !== undefined && Object.keys(p.timings).length > 0) metadata.timings = p.timings;
  if (p.fallbackFrom.length > 0) metadata.fallbackFrom = [...p.fallbackFrom];
  if (p.truncated === true) metadata.truncated = true;
  if (p.host !== undefined) metadata.host = p.host;
  if (p.hostAttempts !== undefined) metadata.hostAttempts = p.hostAttempts;
  if (p.fit !== undefined) {
    metadata.messagesLeftOut = p.fit.leftOut;
    metadata.contextWindow = p.contextLength ?? p.fit.window.tokens;
    metadata.estimatedPromptTokens = p.fit.tokens;
  } else if (p.contextLength !== undefined) {
    metadata.contextWindow = p.contextLength;
  }
  return metadata;
}

/**
 * The servers a routing provider (an Ollama fleet) tried and left before the one `host` names:
 * each gets an audit row of its own, while `host`'s attempt is the row of the answer or failure.
 */
function earlierHosts(attempts: readonly HostAttempt[] | undefined, host: string | undefined): HostAttempt[] {
  if (attempts === undefined) return [];
  const last = attempts[attempts.length - 1];
  const earlier = host !== undefined && last?.host === host ? attempts.slice(0, -1) : attempts;
  return earlier.filter((a) => a.outcome !== 'ok');
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}

/** The assistant message to store for an answer. */
function assistantMessage(text: string, thinking?: string, toolCalls?: ToolCall[]): ChatMessage {
  const message: ChatMessage = { role: 'assistant', content: text };
  if (thinking !== undefined && thinking !== '') message.thinking = thinking;
  if (toolCalls !== undefined && toolCalls.length > 0) message.toolCalls = toolCalls;
  return message;
}

/** Routes messages to providers, with fallback, memory and an audit trail. */
export class Gateway {
  /** The configuration the gateway was built with. */
  readonly config: OmegaConfig;
  /** Conversation memory and audit trail, or null when running without them. */
  readonly memory: MemoryStore | null;
  private readonly logger: Logger;
  private readonly injected: ReadonlyMap<string, ModelProvider>;
  private readonly built = new Map<string, ModelProvider>();
  private readonly configFile: string | undefined;
  /** Token estimates per `<provider>/<model>`, calibrated from the servers' counts and kept in memory. */
  private readonly estimator: TokenEstimator;
  /** Set while a store that answers asynchronously is still reading the calibration. */
  private calibrating: Promise<void> | undefined;

  constructor(opts: GatewayOptions) {
    this.config = opts.config;
    const memory = opts.memory ?? null;
    this.memory = memory instanceof SqliteMemory ? new SqliteStore(memory) : memory;
    this.logger = (opts.logger ?? silentLogger).child({ component: 'gateway' });
    this.estimator = new TokenEstimator();
    // Estimates work uncalibrated; losing the calibration must not stop the gateway.
    const unreadable = (error: unknown): void => this.logger.warn({ err: errorText(error) }, 'could not read the token calibration');
    if (this.memory instanceof SqliteStore) {
      // SQLite answers at once: calibrated before the first request, as it always was.
      try {
        for (const [key, c] of this.memory.sqlite.calibrations()) this.estimator.calibrate(key, c);
      } catch (error) {
        unreadable(error);
      }
    } else if (this.memory !== null) {
      this.calibrating = this.memory.calibrations().then(
        (list) => {
          for (const [key, c] of list) this.estimator.calibrate(key, c);
        },
        unreadable,
      );
      void this.calibrating.finally(() => {
        this.calibrating = undefined;
      });
    }
    this.injected = new Map(Object.entries(opts.providers ?? {}));
    this.configFile = opts.configFile;
  }

  /**
   * A gateway for `config`, with SQLite memory at `[memory] db_path` unless `memory: false`.
   * Synchronous, so it cannot connect to PostgreSQL: with `[memory] backend = "postgres"` use
   * {@link Gateway.connect}.
   */
  static open(config: OmegaConfig, opts: GatewayOpenOptions = {}): Gateway {
    if (opts.memory !== false && config.memory.backend === 'postgres') {
      throw new ConfigError({
        message: 'Gateway.open() cannot connect to PostgreSQL; use `await Gateway.connect(config)` with memory.backend = "postgres".',
        key: 'memory.backend',
      });
    }
    const memory =
      opts.memory === false
        ? null
        : SqliteStore.open(config.memory.dbPath, {
            ...(opts.logger === undefined ? {} : { logger: opts.logger }),
            ...(opts.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: opts.busyTimeoutMs }),
          });
    return Gateway.over(config, memory, opts);
  }

  /**
   * A gateway for `config` with the memory backend it names (`[memory] backend`): SQLite as
   * {@link Gateway.open}, or PostgreSQL, connected and migrated before this resolves.
   */
  static async connect(config: OmegaConfig, opts: GatewayOpenOptions = {}): Promise<Gateway> {
    if (opts.memory === false || config.memory.backend !== 'postgres') return Gateway.open(config, opts);
    const memory = await openMemoryStore(config.memory, opts.logger === undefined ? {} : { logger: opts.logger });
    const gateway = Gateway.over(config, memory, opts);
    await gateway.calibrating;
    return gateway;
  }

  private static over(config: OmegaConfig, memory: MemoryStore | null, opts: GatewayOpenOptions): Gateway {
    return new Gateway({
      config,
      memory,
      ...(opts.logger === undefined ? {} : { logger: opts.logger }),
      ...(opts.configFile === undefined ? {} : { configFile: opts.configFile }),
    });
  }

  /**
   * The provider called `name` (`[provider] default` when omitted), built on first use and
   * cached. A disabled, unknown or not yet implemented provider is a {@link ConfigError}.
   */
  provider(name: string = this.config.provider.default): ModelProvider {
    const injected = this.injected.get(name);
    if (injected !== undefined) {
      if (!this.isEnabled(name)) throw disabledProviderError(name, this.configFile);
      return injected;
    }
    let provider = this.built.get(name);
    if (provider === undefined) {
      provider = buildProvider(name, this.config, {
        logger: this.logger,
        ...(this.configFile === undefined ? {} : { configFile: this.configFile }),
      });
      this.built.set(name, provider);
    }
    return provider;
  }

  /**
   * Answers `msg`: history from memory, the chosen provider, fallback on retryable failures,
   * then the exchange stored in one transaction. Every attempt is audited.
   */
  async handle(msg: IncomingMessage, options: CallOptions = {}): Promise<GatewayAnswer> {
    validate(msg);
    return this.settle(this.run(() => this.messageJob(msg), options, false));
  }

  /**
   * Like {@link handle}, but yields the answer's chunks as they arrive and then a `done` event.
   * Fallback happens only before the first chunk. Cancelling (the signal, leaving the loop, or a
   * failure mid-answer) stores what arrived so far, marked interrupted.
   */
  stream(msg: IncomingMessage, options: CallOptions = {}): AsyncGenerator<GatewayEvent, void, undefined> {
    validate(msg);
    return this.run(() => this.messageJob(msg), options, true);
  }

  /**
   * A whole chat request (a server front end's), answered in one piece with the same fallback,
   * memory and audit as {@link handle}.
   */
  async chat(routed: RoutedChat, options: CallOptions = {}): Promise<GatewayAnswer> {
    validateRouted(routed);
    return this.settle(this.run(() => this.routedJob(routed), options, false));
  }

  /** A whole chat request, streamed with the same fallback, memory and audit as {@link stream}. */
  chatStream(routed: RoutedChat, options: CallOptions = {}): AsyncGenerator<GatewayEvent, void, undefined> {
    validateRouted(routed);
    return this.run(() => this.routedJob(routed), options, true);
  }

  /**
   * The context window a conversation's next answer would get and what fills it: for `omega
   * chat`'s `/context`. Asks the provider for the window (for Ollama: `/api/show` and `/api/ps`,
   * which load nothing).
   */
  async contextReport(
    conversationId: string,
    opts: { provider?: string; model?: string; systemPrompt?: string; signal?: AbortSignal } = {},
  ): Promise<ContextReport> {
    const name = nonEmpty(opts.provider) ? opts.provider : this.config.provider.default;
    const provider = this.provider(name);
    const model = nonEmpty(opts.model) ? opts.model : (this.attempt(name, provider, undefined).model ?? undefined);
    const window = await this.windowOf(provider, model, opts.signal === undefined ? {} : { signal: opts.signal });
    await this.calibrating;
    const { history, entries } = await this.remembered(conversationId);
    const systemPrompt = opts.systemPrompt ?? this.config.omega.systemPrompt;
    const messages: ChatMessage[] = systemPrompt.trim() === '' ? [] : [{ role: 'system', content: systemPrompt }];
    messages.push(...history);
    const reserve = this.reserve({ messages }, window);
    const key = `${name}/${model ?? ''}`;
    // Fitted as if a new, empty message followed, so the count is what the history costs.
    const probe: ChatMessage = { role: 'user', content: '' };
    const fit = fitMessages([...messages, probe], {
      budget: window === undefined ? Number.MAX_SAFE_INTEGER : Math.max(Math.floor(window.limit / 2), window.limit - reserve),
      estimator: this.estimator,
      model: key,
      tokensOf: (m) => {
        const stored = entries.get(m)?.tokens;
        return stored?.source === 'server' ? stored.tokens : undefined;
      },
    });
    const report: ContextReport = {
      provider: name,
      answerReserve: reserve,
      historyMessages: history.length,
      historySent: history.length - fit.leftOut,
      promptTokens: fit.tokens - this.estimator.message(probe, key),
      calibrated: this.estimator.isCalibrated(key),
    };
    if (model !== undefined) report.model = model;
    if (window !== undefined) report.window = window;
    const last = [...entries.values()].reverse().find((e) => e.metadata !== undefined)?.metadata;
    if (last !== undefined) report.last = last;
    return report;
  }

  /** Closes the providers the gateway built (not injected ones) and the memory. */
  async close(): Promise<void> {
    const providers = [...this.built.values()];
    this.built.clear();
    for (const provider of providers) {
      try {
        await provider.close();
      } catch (error) {
        this.logger.warn({ provider: provider.name, err: errorText(error) }, 'closing a provider failed');
      }
    }
    await this.memory?.close();
  }

  // ---- the fallback loop ------------------------------------------------------------------

  /**
   * The one fallback loop behind every entry point: each candidate in turn until one answers.
   * A candidate is left for the next only when it failed retryably before anything reached the
   * caller; unstreamed, the whole answer is one final chunk, so the rules are the same.
   */
  private async *run(prepare: () => Promise<Job>, options: CallOptions, streamed: boolean): AsyncGenerator<GatewayEvent, void, undefined> {
    if (this.calibrating !== undefined) await this.calibrating;
    const job = await prepare();
    const failures: { name: string; error: unknown }[] = [];
    const candidates = this.candidates(job.primary);
    // A provider that routes among several servers keeps a conversation on one (its KV cache stays warm).
    if (job.conversationId !== undefined && options.stickyKey === undefined) options = { ...options, stickyKey: job.conversationId };
    // The first provider's model, for a fallback that serves the same models (the embedded engine after Ollama).
    let firstModel: string | undefined;
    for (const [index, name] of candidates.entries()) {
      const provider = this.candidate(name, index === 0);
      if (provider === undefined) continue;
      const override = index === 0 ? job.model : sameModel(provider, job.primary, firstModel);
      const attempt = this.attempt(name, provider, override);
      if (index === 0) firstModel = attempt.model;
      let request = job.request(override);
      let tightened: number | undefined;
      const partial: Received = { text: '', thinking: '', toolCalls: [] };
      let yielded = false;
      // Set once the attempt ends by itself (an answer or an error); otherwise the consumer left early.
      let settled = false;
      try {
        request = await this.fit(provider, job, attempt, request, options);
        for (;;) {
          try {
            const chunks = streamed ? provider.chatStream(request, options) : responseAsChunks(provider.chat(request, options));
            for await (const chunk of chunks) {
              accumulate(partial, chunk);
              yielded = true;
              if (streamed) yield { type: 'chunk', provider: name, chunk };
            }
            break;
          } catch (error) {
            // The server refused a prompt longer than its window: trim harder and try once more.
            if (yielded || tightened !== undefined || !isOverflow(error) || attempt.fit === undefined) throw error;
            const retry = this.tighten(job, attempt, attempt.fit, request);
            if (retry === undefined) throw error;
            tightened = attempt.fit.budget;
            this.logger.warn(
              { provider: name, model: attempt.model, budget: tightened, leftOut: attempt.fit.leftOut },
              'the prompt overflowed the context window; retrying once with less history',
            );
            request = retry;
          }
        }
        if (partial.final === undefined && options.signal?.aborted === true) {
          // Some providers end a cancelled stream quietly; the answer is still cut short.
          throw new ProviderError({ provider: name, code: 'aborted', message: 'The request was cancelled.' });
        }
        settled = true;
      } catch (error) {
        settled = true;
        if (!yielded) {
          await this.auditFailure(job, attempt, error);
          if (!shouldFallBack(error) || options.signal?.aborted === true) throw error;
          if (index < candidates.length - 1) this.logger.warn({ provider: name, code: errorCode(error) }, 'provider failed; trying the next one');
          failures.push({ name, error });
          continue;
        }
        try {
          await this.storePartial(job, attempt, partial, failures, error);
        } catch (memoryError) {
          // The provider's failure is what the caller must see; the storage failure is logged.
          this.logger.error({ err: errorText(memoryError) }, 'could not store the interrupted answer');
        }
        throw error;
      } finally {
        if (!settled) {
          // The consumer broke out of its loop: keep what it was shown.
          if (partial.final !== undefined) {
            await this.store(job, this.finish(attempt, partial, failures), false);
          } else {
            await this.storePartial(
              job,
              attempt,
              partial,
              failures,
              new ProviderError({ provider: name, code: 'aborted', message: 'The caller stopped reading the answer.' }),
            );
          }
        }
      }
      const answer = this.finish(attempt, partial, failures);
      await this.learn(attempt, answer);
      await this.store(job, answer, false);
      yield { type: 'done', message: answer };
      return;
    }
    throw this.exhausted(failures);
  }

  // ---- the token budget -------------------------------------------------------------------

  /** Tokens kept for the answer: the request's `num_predict`, the provider's, or `[memory] answer_reserve`. */
  private reserve(request: ChatRequest, window: ContextWindow | undefined): number {
    const asked = request.options?.num_predict;
    if (typeof asked === 'number' && asked > 0) return asked;
    if (window?.answerTokens !== undefined && window.answerTokens > 0) return window.answerTokens;
    return this.config.memory.answerReserve ?? DEFAULT_ANSWER_RESERVE;
  }

  /** The window a provider will use for a model; undefined when it does not say or cannot tell now. */
  private async windowOf(provider: ModelProvider, model: string | undefined, options: CallOptions): Promise<ContextWindow | undefined> {
    if (provider.contextWindowFor === undefined || model === undefined) return undefined;
    try {
      return await provider.contextWindowFor(model, options);
    } catch (error) {
      // The request itself will meet the same failure and report it properly.
      this.logger.debug({ provider: provider.name, model, err: errorText(error) }, 'context window unknown; no token budget');
      return undefined;
    }
  }

  /**
   * Fits the request's messages into the model's window minus the answer's reserve: the system
   * prompt and the current turn always stay, the oldest turns go first. Without a known window
   * the request goes as it is (`max_context_messages` still bounds the history).
   */
  private async fit(provider: ModelProvider, job: Job, attempt: Attempt, request: ChatRequest, options: CallOptions): Promise<ChatRequest> {
    const model = request.model ?? attempt.model;
    // A client's own num_ctx (a server front end passes options through) is the window it gets.
    const asked = request.options?.num_ctx;
    const window =
      typeof asked === 'number' && asked > 0 && provider.contextWindowFor !== undefined
        ? ({ tokens: asked, limit: asked, source: 'options' } satisfies ContextWindow)
        : await this.windowOf(provider, model, options);
    if (window === undefined || model === undefined) return request;
    const reserve = this.reserve(request, window);
    // A window smaller than the reserve still gets a prompt: half of it.
    const budget = Math.max(Math.floor(window.limit / 2), window.limit - reserve);
    return this.fitTo(job, attempt, request, { window, budget, key: `${attempt.name}/${model}` });
  }

  private fitTo(job: Job, attempt: Attempt, request: ChatRequest, p: { window: ContextWindow; budget: number; key: string }): ChatRequest {
    const fit = fitMessages(request.messages, {
      budget: p.budget,
      estimator: this.estimator,
      model: p.key,
      tokensOf: (m) => {
        const stored = job.entries.get(m)?.tokens;
        return stored?.source === 'server' ? stored.tokens : undefined;
      },
    });
    attempt.fit = { window: p.window, budget: p.budget, leftOut: fit.leftOut, tokens: fit.tokens, key: p.key, messages: fit.messages };
    if (fit.leftOut > 0) {
      this.logger.info(
        { provider: attempt.name, model: attempt.model, leftOut: fit.leftOut, tokens: fit.tokens, budget: p.budget },
        'history left out to fit the context window',
      );
    }
    return { ...request, messages: fit.messages, promptTokens: fit.tokens };
  }

  /**
   * After a `context_overflow`: the estimate was low by at least the ratio of the window to it,
   * so the budget shrinks by that ratio (and a tenth more). Undefined when nothing more can go.
   */
  private tighten(job: Job, attempt: Attempt, fit: FitInfo, request: ChatRequest): ChatRequest | undefined {
    const ratio = Math.min(1, fit.tokens / Math.max(1, fit.window.limit));
    const budget = Math.floor(fit.budget * ratio * 0.9);
    const retry = this.fitTo(job, attempt, { ...request, messages: fit.messages }, { window: fit.window, budget, key: fit.key });
    const dropped = attempt.fit?.leftOut ?? 0;
    if (dropped === 0) {
      attempt.fit = { ...fit };
      return undefined;
    }
    attempt.fit = { ...(attempt.fit as FitInfo), leftOut: fit.leftOut + dropped };
    return retry;
  }

  /** Calibrates the estimator from the server's count of the prompt just sent, and keeps the result. */
  private async learn(attempt: Attempt, answer: GatewayAnswer): Promise<void> {
    const fit = attempt.fit;
    const counted = answer.metadata.promptTokens;
    if (fit === undefined || counted === undefined || answer.metadata.truncated === true) return;
    if (!this.estimator.observe(fit.key, fit.messages, counted)) return;
    const calibration = this.estimator.calibration(fit.key);
    if (this.memory === null || calibration === undefined) return;
    try {
      await this.memory.saveCalibration(fit.key, calibration);
    } catch (error) {
      this.logger.warn({ err: errorText(error) }, 'could not save the token calibration');
    }
  }

  /** The finished answer of an unstreamed run. */
  private async settle(events: AsyncGenerator<GatewayEvent, void, undefined>): Promise<GatewayAnswer> {
    for await (const event of events) {
      if (event.type === 'done') return event.message;
    }
    // run() either yields `done` or throws.
    throw new Error('the gateway ended without an answer');
  }

  private async messageJob(msg: IncomingMessage): Promise<Job> {
    const { history, entries, wholeConversation } = await this.remembered(msg.conversationId);
    const systemPrompt = msg.systemPrompt ?? this.config.omega.systemPrompt;
    const job: Job = {
      channel: msg.channel,
      sender: msg.sender,
      auditKey: msg.conversationId,
      conversationId: msg.conversationId,
      primary: nonEmpty(msg.provider) ? msg.provider : this.config.provider.default,
      user: { role: 'user', content: msg.text },
      entries,
      wholeConversation,
      request: (model) => {
        const context: Context = { systemPrompt, history, currentMessage: msg.text };
        const messages = contextToMessages(context);
        const last = messages[messages.length - 1];
        if (last !== undefined && msg.images !== undefined && msg.images.length > 0) {
          messages[messages.length - 1] = { ...last, images: [...msg.images] };
        }
        const request: ChatRequest = { messages };
        if (model !== undefined) request.model = model;
        if (msg.think !== undefined) request.think = msg.think;
        return request;
      },
    };
    if (nonEmpty(msg.model)) job.model = msg.model;
    return job;
  }

  private async routedJob(routed: RoutedChat): Promise<Job> {
    const conversationId = nonEmpty(routed.conversationId) ? routed.conversationId : undefined;
    const { history, entries, wholeConversation } =
      conversationId === undefined
        ? { history: [], entries: new Map<ChatMessage, HistoryEntry>(), wholeConversation: false }
        : await this.remembered(conversationId);
    const { model, ...rest } = routed.request;
    const messages = routed.request.messages;
    // The client's own leading system messages stay first, before the remembered history.
    let system = 0;
    while (system < messages.length && messages[system]?.role === 'system') system++;
    const full = [...messages.slice(0, system), ...history, ...messages.slice(system)];
    const lastUser = [...messages].reverse().find((m) => m.role === 'user');
    const job: Job = {
      channel: routed.channel,
      sender: routed.sender,
      auditKey: conversationId ?? (nonEmpty(routed.requestId) ? routed.requestId : `req-${randomUUID()}`),
      primary: nonEmpty(routed.provider) ? routed.provider : this.config.provider.default,
      user: lastUser === undefined ? { role: 'user', content: '' } : withoutImages(lastUser),
      entries,
      // The client's own messages come after the remembered ones: no server count for the user's.
      wholeConversation: wholeConversation && messages.length === 1,
      request: (override) => {
        const request: ChatRequest = { ...rest, messages: full };
        if (override !== undefined) request.model = override;
        return request;
      },
    };
    if (conversationId !== undefined) job.conversationId = conversationId;
    if (nonEmpty(model)) job.model = model;
    return job;
  }

  // ---- candidates -------------------------------------------------------------------------

  private isEnabled(name: string): boolean {
    return isProviderName(name) ? this.config.provider[name].enabled : true;
  }

  /** The chosen provider, then `[provider] fallback` without repeats or disabled entries. */
  private candidates(primary: string): string[] {
    const names = [primary];
    for (const name of this.config.provider.fallback) {
      if (names.includes(name)) continue;
      if (!this.isEnabled(name)) {
        this.logger.debug({ provider: name }, 'fallback provider disabled; skipped');
        continue;
      }
      names.push(name);
    }
    return names;
  }

  /** The provider for a candidate; a fallback that cannot be built is skipped, the first choice throws. */
  private candidate(name: string, primary: boolean): ModelProvider | undefined {
    if (primary) return this.provider(name);
    try {
      return this.provider(name);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      this.logger.warn({ provider: name, err: error.message }, 'fallback provider unusable; skipped');
      return undefined;
    }
  }

  private attempt(name: string, provider: ModelProvider, override: string | undefined): Attempt {
    const attempt: Attempt = { name, started: performance.now() };
    const model = override ?? (nonEmpty(provider.model) ? provider.model : undefined) ?? this.configModel(name);
    if (model !== undefined) attempt.model = model;
    return attempt;
  }

  private configModel(name: string): string | undefined {
    if (!isProviderName(name)) return undefined;
    return this.config.provider[name].model;
  }

  /** A conversation's remembered history (at most `max_context_messages`), with stored token counts. */
  private async remembered(
    conversationId: string,
  ): Promise<{ history: ChatMessage[]; entries: Map<ChatMessage, HistoryEntry>; wholeConversation: boolean }> {
    const entries = new Map<ChatMessage, HistoryEntry>();
    if (this.memory === null) return { history: [], entries, wholeConversation: true };
    const limit = this.config.memory.maxContextMessages;
    const list = await this.memory.historyEntries(conversationId, limit);
    for (const entry of list) entries.set(entry.message, entry);
    return { history: list.map((e) => e.message), entries, wholeConversation: list.length < limit };
  }

  // ---- answers, memory and audit ----------------------------------------------------------

  /** The finished answer of an attempt. */
  private finish(attempt: Attempt, partial: Received, failures: { name: string }[]): GatewayAnswer {
    const final = partial.final;
    const answer: GatewayAnswer = {
      text: partial.text,
      metadata: buildMetadata({
        provider: attempt.name,
        model: partial.model ?? attempt.model ?? '',
        ms: elapsed(attempt.started),
        ...(final?.usage === undefined ? {} : { usage: final.usage }),
        doneReason: final === undefined ? 'incomplete' : (final.doneReason ?? 'stop'),
        ...(final?.timings === undefined ? {} : { timings: final.timings }),
        fallbackFrom: failures.map((f) => f.name),
        ...(final?.truncated === true ? { truncated: true } : {}),
        ...(final?.contextLength === undefined ? {} : { contextLength: final.contextLength }),
        ...(attempt.fit === undefined ? {} : { fit: attempt.fit }),
        ...(final?.host === undefined ? {} : { host: final.host }),
        ...(final?.hostAttempts === undefined ? {} : { hostAttempts: final.hostAttempts }),
      }),
    };
    if (partial.thinking !== '') answer.thinking = partial.thinking;
    if (partial.toolCalls.length > 0) answer.toolCalls = [...partial.toolCalls];
    return answer;
  }

  private auditRecord(job: Job, attempt: Attempt, outcome: string): AuditRecordInput {
    const record: AuditRecordInput = {
      channel: job.channel,
      conversationId: job.auditKey,
      sender: job.sender,
      provider: attempt.name,
      outcome,
      durationMs: elapsed(attempt.started),
    };
    if (attempt.model !== undefined) record.model = attempt.model;
    return record;
  }

  /**
   * Audits a failed attempt. A memory failure here is logged, not thrown: the provider's
   * error is the one the caller must see.
   */
  private async auditFailure(job: Job, attempt: Attempt, error: unknown): Promise<void> {
    if (this.memory === null) return;
    const code = errorCode(error);
    const record: AuditRecordInput = { ...this.auditRecord(job, attempt, code), errorCode: code, errorMessage: errorText(error) };
    const hosts = error instanceof ProviderError ? error : undefined;
    if (hosts?.host !== undefined) record.host = hosts.host;
    try {
      await this.auditHosts(job, attempt, earlierHosts(hosts?.hostAttempts, hosts?.host));
      await this.memory.audit(record);
    } catch (memoryError) {
      this.logger.error({ err: errorText(memoryError) }, 'could not write the audit record of a failed attempt');
    }
  }

  /** One audit row per server a routing provider tried and left, in the order it tried them. */
  private async auditHosts(job: Job, attempt: Attempt, failed: readonly HostAttempt[]): Promise<void> {
    if (this.memory === null) return;
    for (const h of failed) {
      const record: AuditRecordInput = { ...this.auditRecord(job, attempt, h.outcome), errorCode: h.outcome, durationMs: h.ms, host: h.host };
      if (h.error !== undefined) record.errorMessage = redactSecrets(h.error);
      await this.memory.audit(record);
    }
  }

  /**
   * Stores an exchange and its audit record in one transaction; outside a conversation only
   * the audit record is written.
   */
  private async store(job: Job, answer: GatewayAnswer, interrupted: boolean, failure?: unknown): Promise<void> {
    if (job.conversationId !== undefined) answer.replyTarget = job.conversationId;
    if (this.memory === null) return;
    const meta = answer.metadata;
    const attempt: Attempt = { name: meta.providerUsed, model: meta.model, started: performance.now() };
    const outcome = failure === undefined ? 'ok' : errorCode(failure);
    const audit: AuditRecordInput = { ...this.auditRecord(job, attempt, outcome), durationMs: meta.processingTimeMs };
    if (failure !== undefined) {
      audit.errorCode = outcome;
      audit.errorMessage = errorText(failure);
    }
    if (meta.promptTokens !== undefined) audit.promptTokens = meta.promptTokens;
    if (meta.completionTokens !== undefined) audit.completionTokens = meta.completionTokens;
    // The servers tried before this one, each on its own row ahead of the exchange's.
    const hosts: { host?: string; hostAttempts?: HostAttempt[] } = failure === undefined ? meta : failure instanceof ProviderError ? failure : {};
    if (hosts.host !== undefined) audit.host = hosts.host;
    await this.auditHosts(job, attempt, earlierHosts(hosts.hostAttempts, hosts.host));
    if (job.conversationId === undefined) {
      await this.memory.audit(audit);
      return;
    }
    const assistant = assistantMessage(answer.text, answer.thinking, answer.toolCalls);
    const key = `${meta.providerUsed}/${meta.model}`;
    await this.memory.saveExchange({
      conversationId: job.conversationId,
      channel: job.channel,
      sender: job.sender,
      user: job.user,
      assistant,
      metadata: meta,
      interrupted,
      audit,
      userTokens: this.userTokens(job, meta, key),
      assistantTokens:
        meta.completionTokens !== undefined && !interrupted
          ? { tokens: meta.completionTokens, source: 'server' }
          : { tokens: this.estimator.message(assistant, key), source: 'estimate' },
    });
  }

  /**
   * The user message's tokens. The server counts prompts, not messages, so the count is the
   * difference between this prompt and the previous one plus its answer: exact when both prompts
   * carried the whole conversation. Otherwise the calibrated estimate.
   */
  private userTokens(job: Job, meta: GatewayMetadata, key: string): TokenCount {
    const estimate: TokenCount = { tokens: this.estimator.message(job.user, key), source: 'estimate' };
    const prompt = meta.promptTokens;
    if (prompt === undefined || meta.truncated === true || meta.messagesLeftOut !== 0 || !job.wholeConversation) return estimate;
    const entries = [...job.entries.values()];
    const previous = entries[entries.length - 1];
    const before = previous?.metadata;
    if (previous === undefined || previous.message.role !== 'assistant' || before === undefined) return estimate;
    if (before.model !== meta.model || before.providerUsed !== meta.providerUsed) return estimate;
    if (before.promptTokens === undefined || before.completionTokens === undefined) return estimate;
    if ((before.messagesLeftOut ?? 0) !== 0 || before.truncated === true || before.doneReason === 'interrupted') return estimate;
    const tokens = prompt - before.promptTokens - before.completionTokens;
    return tokens > 0 ? { tokens, source: 'server' } : estimate;
  }

  /** Stores what arrived of an answer cut short, marked interrupted, with the failure audited. */
  private async storePartial(job: Job, attempt: Attempt, partial: Received, failures: { name: string }[], error: unknown): Promise<void> {
    const answer = this.finish(attempt, partial, failures);
    answer.metadata.doneReason = 'interrupted';
    await this.store(job, answer, true, error);
  }

  /** The error to throw when every candidate failed retryably. */
  private exhausted(failures: { name: string; error: unknown }[]): unknown {
    const first = failures[0];
    if (first === undefined) {
      return new ConfigError({ message: 'No provider is enabled; set `[provider.ollama] enabled = true`.' });
    }
    if (failures.length === 1 || !(first.error instanceof ProviderError)) return first.error;
    const others = failures
      .slice(1)
      .map((f) => `${f.name} (${errorCode(f.error)})`)
      .join(', ');
    const e = first.error;
    return new ProviderError({
      provider: e.provider,
      code: e.code,
      message: `${e.message.replace(/[.\s]+$/, '')}; the fallback providers failed too: ${others}.`,
      retryable: e.retryable,
      ...(e.status === undefined ? {} : { status: e.status }),
      ...(e.hint === undefined ? {} : { hint: e.hint }),
      ...(e.phase === undefined ? {} : { phase: e.phase }),
      ...(e.providerMessage === undefined ? {} : { providerMessage: e.providerMessage }),
      cause: new AggregateError(
        failures.map((f) => f.error),
        'every provider failed',
      ),
    });
  }
}

/** The first provider's model for a fallback that serves that provider's models under the same names. */
function sameModel(provider: ModelProvider, primary: string, model: string | undefined): string | undefined {
  return model !== undefined && provider.servesModelsOf?.includes(primary) === true ? model : undefined;
}

/** Rejects messages the gateway cannot file or send. */
function validate(msg: IncomingMessage): void {
  for (const key of ['channel', 'conversationId', 'sender'] as const) {
    if (!nonEmpty(msg[key])) throw new UsageError(`The message has no ${key}; give it a non-empty ${key}.`);
  }
  if (typeof msg.text !== 'string') throw new UsageError('The message has no text; give it a text string.');
  if (msg.text.trim() === '' && (msg.images === undefined || msg.images.length === 0)) {
    throw new UsageError('The message is empty; type something to send.');
  }
}

/** Rejects routed requests the gateway cannot file or send. */
function validateRouted(routed: RoutedChat): void {
  for (const key of ['channel', 'sender'] as const) {
    if (!nonEmpty(routed[key])) throw new UsageError(`The request has no ${key}; give it a non-empty ${key}.`);
  }
  if (!Array.isArray(routed.request?.messages) || routed.request.messages.length === 0) {
    throw new UsageError('The request has no messages; send at least one message.');
  }
}

/** A message as memory keeps it: images are not stored. */
function withoutImages(message: ChatMessage): ChatMessage {
  if (message.images === undefined) return message;
  const { images: _images, ...rest } = message;
  return rest;
}

function accumulate(partial: Received, chunk: ChatChunk): void {
  partial.text += chunk.content;
  if (chunk.thinking !== undefined) partial.thinking += chunk.thinking;
  if (chunk.toolCalls !== undefined) partial.toolCalls.push(...chunk.toolCalls);
  if (chunk.model !== undefined && chunk.model !== '') partial.model = chunk.model;
  if (chunk.done) partial.final = chunk;
}
