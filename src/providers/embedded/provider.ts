/**
 * The embedded provider: answers in-process with llama.cpp (node-llama-cpp) from the models in
 * Ollama's own store, so a request for an Ollama model still gets an answer while `ollama
 * serve` is down. One model is kept loaded for `keepAliveMs` after a call, then released; calls
 * take turns on it, one generation at a time, as on a small machine they would anyway.
 */
import { homedir } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { ChatHistoryItem, ChatWrapper, Llama, LlamaContext, LlamaContextSequence, LlamaGrammar, LlamaModel } from 'node-llama-cpp';
import { ProviderError } from '../../core/errors.js';
import type { TimeoutPhase } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import type {
  CallOptions,
  ChatChunk,
  ChatMessage,
  ChatRequest,
  ChatResponse,
  Context,
  ContextWindow,
  GenerationOptions,
  ModelInfo,
  ModelProvider,
  OutgoingMessage,
  Timeouts,
  Timings,
  Usage,
} from '../../core/types.js';
import { completeWithChat } from '../../core/types.js';
import type { GgufFacts, LlamaModule } from './engine.js';
import { ggufFacts, importEngine, legacyTemplateWrapper, startLlama } from './engine.js';
import { EMBEDDED, defaultModelsDir, listStore, resolveModel, unknownMediaTypes } from './store.js';
import type { ResolvedModel } from './store.js';
import { parseLegacyTemplate } from './template.js';
import {
  EMBEDDED_DEFAULT_CONTEXT,
  EMBEDDED_DEFAULT_KEEP_ALIVE_MS,
  EMBEDDED_DEFAULT_TIMEOUTS,
  EMBEDDED_MIN_CONTEXT,
} from './types.js';
import type { EmbeddedProviderOptions } from './types.js';
import type { EmbeddedConfig } from './spec.js';

/** The loaded model and everything built for it. */
interface Loaded {
  model: ResolvedModel;
  facts: GgufFacts;
  llamaModel: LlamaModel;
  context: LlamaContext;
  sequence: LlamaContextSequence;
  contextSize: number;
  threads: number | undefined;
  wrapper: ChatWrapper | undefined;
  /** Unloads the model when it has been idle for the keep-alive time. */
  timer?: NodeJS.Timeout;
}

/** The library option and config key of each timeout phase, for messages and `ProviderError.setting`. */
const PHASE_SETTING: Record<Exclude<TimeoutPhase, 'connect'>, { option: string; configKey: string }> = {
  load: { option: 'timeouts.loadMs', configKey: 'provider.embedded.timeouts.load' },
  idle: { option: 'timeouts.idleMs', configKey: 'provider.embedded.timeouts.idle' },
  request: { option: 'timeouts.requestMs', configKey: 'provider.embedded.timeouts.request' },
};

const PHASE_WORDS: Record<Exclude<TimeoutPhase, 'connect'>, string> = {
  load: 'loading the model and reading the prompt',
  idle: 'waiting for the next token',
  request: 'answering',
};

/** Ollama's sampling defaults, applied where neither the model, the provider nor the request says. */
const OLLAMA_SAMPLING = { temperature: 0.8, top_k: 40, top_p: 0.9 } as const;

/** Go's time.ParseDuration units, for a `keepAlive` string. */
const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A keep-alive as milliseconds: a number is seconds (as Ollama takes it), a string a Go
 * duration (`"5m"`, `"1h30m"`); negative keeps the model loaded. Undefined when unreadable.
 */
export function keepAliveMs(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value * 1000 : undefined;
  const text = value.trim();
  if (/^[-+]?\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const m = /^([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(text);
  if (m === null) return undefined;
  let total = 0;
  for (const part of (m[2] as string).matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(part[1]) * (DURATION_UNITS[part[2] as string] ?? 0);
  }
  return m[1] === '-' ? -total : total;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v !== '') : [];
}

/** The embedded engine over Ollama's model store; see the module comment. */
export class EmbeddedProvider implements ModelProvider {
  /** Always `embedded`. */
  readonly name = EMBEDDED;
  /** A local engine needs no key. */
  readonly requiresApiKey = false;
  /** Model used when a call names none. */
  readonly model: string | undefined;
  /** As a fallback, this provider answers for Ollama's models under the same names. */
  readonly servesModelsOf: readonly string[] = ['ollama'];
  /** The Ollama model store this provider reads. */
  readonly modelsDir: string;

  private readonly logger: Logger;
  private readonly timeouts: Timeouts;
  private readonly threads: number | undefined;
  private readonly gpu: 'auto' | false;
  private readonly keepAlive: number;
  private readonly contextDefault: number;
  private readonly defaults: GenerationOptions;
  private llama: Promise<{ mod: LlamaModule; llama: Llama }> | undefined;
  private loaded: Loaded | undefined;
  /** Calls take turns: the tail of the queue. */
  private turn: Promise<void> = Promise.resolve();
  /** Aborts every call in flight; replaced after close(). */
  private closing = new AbortController();
  /** Generations running in llama.cpp now (they end on abort even when no one reads the stream). */
  private readonly working = new Set<Promise<unknown>>();

  constructor(options: EmbeddedProviderOptions = {}) {
    const env = options.env ?? process.env;
    this.modelsDir = options.modelsDir ?? defaultModelsDir(env, env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir());
    if (options.model !== undefined && options.model !== '') this.model = options.model;
    this.logger = (options.logger ?? silentLogger).child({ provider: EMBEDDED });
    this.timeouts = { ...EMBEDDED_DEFAULT_TIMEOUTS, ...options.timeouts };
    this.threads = options.threads;
    this.gpu = options.gpu ?? false;
    this.keepAlive = options.keepAliveMs ?? EMBEDDED_DEFAULT_KEEP_ALIVE_MS;
    this.contextDefault = options.context ?? EMBEDDED_DEFAULT_CONTEXT;
    this.defaults = { ...options.options };
  }

  /** The provider for a loaded `[provider.embedded]` section. */
  static fromConfig(config: EmbeddedConfig, logger?: Logger): EmbeddedProvider {
    const options: EmbeddedProviderOptions = {
      modelsDir: config.modelsDir,
      gpu: config.gpu,
      keepAliveMs: config.keepAliveMs,
      context: config.context,
      timeouts: config.timeouts,
    };
    if (config.model !== undefined) options.model = config.model;
    if (config.threads !== undefined) options.threads = config.threads;
    if (logger !== undefined) options.logger = logger;
    return new EmbeddedProvider(options);
  }

  /** Answers the current message of `context`. */
  complete(context: Context, options?: CallOptions): Promise<OutgoingMessage> {
    return completeWithChat(this, context, options);
  }

  /** True when node-llama-cpp can be imported and the store (or the configured GGUF) is there. */
  async isAvailable(): Promise<boolean> {
    try {
      await importEngine();
      if (this.model !== undefined) {
        resolveModel(this.modelsDir, this.model);
        return true;
      }
      return listStore(this.modelsDir).some((entry) => entry.ok);
    } catch {
      return false;
    }
  }

  /**
   * Every model in the store, `local: true`, with the trained context from its GGUF. A model the
   * engine cannot run is listed with `unsupported` saying why and no capabilities.
   */
  async listModels(): Promise<ModelInfo[]> {
    const mod = await importEngine();
    const out: ModelInfo[] = [];
    for (const entry of listStore(this.modelsDir)) {
      const info: ModelInfo = {
        id: `${EMBEDDED}/${entry.name}`,
        provider: EMBEDDED,
        name: entry.name,
        capabilities: { chat: false, vision: false, tools: false, embeddings: false, streaming: false, thinking: false },
        pricing: null,
        local: true,
      };
      if (!entry.ok) {
        info.unsupported = entry.error.message;
        if (entry.remoteHost !== undefined) {
          info.local = false;
          info.remoteHost = entry.remoteHost;
        }
        if (entry.remoteModel !== undefined) info.remoteModel = entry.remoteModel;
        if (entry.modifiedAt !== undefined) info.modifiedAt = entry.modifiedAt;
        out.push(info);
        continue;
      }
      const m = entry.model;
      info.sizeBytes = m.sizeBytes;
      if (m.modifiedAt !== undefined) info.modifiedAt = m.modifiedAt;
      if (m.digest !== undefined) info.digest = m.digest;
      if (m.family !== undefined) info.family = m.family;
      if (m.quantization !== undefined) info.quantization = m.quantization;
      try {
        const facts = await ggufFacts(mod, m.modelPath);
        if (facts.contextLength !== undefined) info.contextWindow = facts.contextLength;
        if (facts.parameterCount !== undefined) info.parameterSize = facts.parameterCount;
        if (facts.multimodal !== undefined) info.unsupported = this.multimodalError(m.name, facts.multimodal).message;
        else info.capabilities = { ...info.capabilities, chat: true, streaming: true };
      } catch (error) {
        info.unsupported = `The embedded engine cannot read ${m.name}: its model file is not a GGUF llama.cpp reads (${(error as Error).message}).`;
      }
      out.push(info);
    }
    return out;
  }

  /** The window the next request for `model` gets: `num_ctx`, else the configured `context`, within the trained length. */
  async contextWindowFor(model: string): Promise<ContextWindow | undefined> {
    const resolved = resolveModel(this.modelsDir, model);
    const facts = this.loaded?.model.modelPath === resolved.modelPath ? this.loaded.facts : await ggufFacts(await importEngine(), resolved.modelPath);
    const asked = num({ ...resolved.params, ...this.defaults }.num_ctx);
    const tokens = this.contextSizeFor(asked, facts);
    const window: ContextWindow = { tokens, limit: tokens, source: asked !== undefined ? 'options' : 'server-default' };
    if (facts.contextLength !== undefined) window.trained = facts.contextLength;
    return window;
  }

  /** A chat answer in one piece. */
  async chat(request: ChatRequest, options: CallOptions = {}): Promise<ChatResponse> {
    let content = '';
    let thinking = '';
    let final: ChatChunk | undefined;
    const started = performance.now();
    for await (const chunk of this.chatStream(request, options)) {
      content += chunk.content;
      if (chunk.thinking !== undefined) thinking += chunk.thinking;
      if (chunk.done) final = chunk;
    }
    const message: ChatResponse['message'] = { role: 'assistant', content };
    if (thinking !== '') message.thinking = thinking;
    const res: ChatResponse = {
      message,
      model: final?.model ?? request.model ?? this.model ?? '',
      usage: final?.usage ?? {},
      timings: final?.timings ?? {},
      processingTimeMs: Math.round(performance.now() - started),
    };
    if (final?.doneReason !== undefined) res.doneReason = final.doneReason;
    if (final?.contextLength !== undefined) res.contextLength = final.contextLength;
    return res;
  }

  /** The answer token by token; leaving the loop early stops generation at once. */
  chatStream(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    return this.generate(request, options);
  }

  /** Unloads the model and stops llama.cpp; calls in flight fail with `aborted`. */
  async close(): Promise<void> {
    this.closing.abort();
    // Wait for llama.cpp to stop, not for readers: a stream no one reads any more must not hold close() up.
    await Promise.allSettled([...this.working]);
    await this.unload();
    const llama = this.llama;
    this.llama = undefined;
    if (llama !== undefined) await (await llama.catch(() => undefined))?.llama.dispose();
    this.closing = new AbortController();
  }

  /** Whether a model is loaded now (for tests and `omega status`). */
  get loadedModel(): string | undefined {
    return this.loaded?.model.name;
  }

  // ---- one call ---------------------------------------------------------------------------

  private async *generate(request: ChatRequest, options: CallOptions): AsyncGenerator<ChatChunk, void, undefined> {
    const name = request.model !== undefined && request.model !== '' ? request.model : this.model;
    if (name === undefined) {
      throw new ProviderError({
        provider: EMBEDDED,
        code: 'bad_request',
        message: 'No model was named; pass `model` in the request or set the provider option `model`.',
      });
    }
    this.refuseWhatItCannotDo(request, name);
    const resolved = resolveModel(this.modelsDir, name);
    const unknown = unknownMediaTypes(this.modelsDir, name);
    if (unknown.length > 0) this.logger.debug({ model: name, mediaTypes: unknown }, 'manifest layers of unknown types ignored');
    const timeouts = { ...this.timeouts, ...options.timeouts };

    // Calls take turns on the one loaded model; a close() while waiting ends the wait too.
    const closing = this.closing.signal;
    const previous = this.turn;
    let release!: () => void;
    this.turn = new Promise<void>((r) => (release = r));
    try {
      await waitFor(previous, options.signal, closing, name);
      yield* this.run(resolved, request, options, timeouts);
    } finally {
      release();
    }
  }

  private async *run(resolved: ResolvedModel, request: ChatRequest, options: CallOptions, timeouts: Timeouts): AsyncGenerator<ChatChunk, void, undefined> {
    const started = performance.now();
    const control = new AbortController();
    let expired: Exclude<TimeoutPhase, 'connect'> | undefined;
    const timers = new Set<NodeJS.Timeout>();
    const arm = (phase: Exclude<TimeoutPhase, 'connect'>, ms: number): NodeJS.Timeout | undefined => {
      if (ms <= 0) return undefined;
      const timer = setTimeout(() => {
        expired ??= phase;
        control.abort();
      }, ms);
      timers.add(timer);
      return timer;
    };
    const disarm = (timer: NodeJS.Timeout | undefined): void => {
      if (timer === undefined) return;
      clearTimeout(timer);
      timers.delete(timer);
    };
    const onAbort = (): void => control.abort();
    // This call's own: close() replaces the provider's controller once it is done.
    const closing = this.closing.signal;
    options.signal?.addEventListener('abort', onAbort, { once: true });
    closing.addEventListener('abort', onAbort, { once: true });
    if (closing.aborted) control.abort();
    if (options.signal?.aborted === true) control.abort();
    arm('request', timeouts.requestMs);
    let loadTimer = arm('load', timeouts.loadMs);
    let idleTimer: NodeJS.Timeout | undefined;

    const queue: ChatChunk[] = [];
    let wake: (() => void) | undefined;
    const push = (chunk: ChatChunk): void => {
      queue.push(chunk);
      wake?.();
    };
    let text = '';
    let completionTokens = 0;
    let firstTokenAt: number | undefined;
    let loadMs: number | undefined;
    let contextSize = 0;

    const work = (async () => {
      const t0 = performance.now();
      const loaded = await this.ensureLoaded(resolved, request, control.signal);
      if (loaded.fresh) loadMs = performance.now() - t0;
      const { mod, state } = loaded;
      contextSize = state.contextSize;
      const gen = this.sampling(resolved, request);
      const grammar = await this.grammarFor(loaded.llama, request, resolved.name);
      const chat = new mod.LlamaChat({ contextSequence: state.sequence, chatWrapper: state.wrapper ?? 'auto', autoDisposeSequence: false });
      const evalStart = performance.now();
      try {
        const result = await chat.generateResponse(this.history(resolved, request), {
          signal: control.signal,
          stopOnAbortSignal: true,
          ...gen,
          ...(grammar === undefined ? {} : { grammar }),
          onToken: (tokens) => {
            completionTokens += tokens.length;
            firstTokenAt ??= performance.now();
            disarm(loadTimer);
            loadTimer = undefined;
            disarm(idleTimer);
            idleTimer = arm('idle', timeouts.idleMs);
          },
          onResponseChunk: (chunk) => {
            if (chunk.text === '') return;
            if (chunk.type === 'segment') {
              if (chunk.segmentType === 'thought') push({ content: '', thinking: chunk.text, done: false, model: resolved.name });
              return;
            }
            text += chunk.text;
            push({ content: chunk.text, done: false, model: resolved.name });
          },
        });
        const promptTokens = Math.max(0, state.sequence.contextTokens.length - completionTokens);
        return { stopReason: result.metadata.stopReason, promptTokens, evalStart };
      } finally {
        chat.dispose({ disposeSequence: false });
      }
    })();
    this.working.add(work);
    void work.then(
      () => this.working.delete(work),
      () => this.working.delete(work),
    );
    let outcome: { stopReason: string; promptTokens: number; evalStart: number } | undefined;
    let failure: unknown;
    let settled = false;
    work.then(
      (value) => {
        outcome = value;
        settled = true;
        wake?.();
      },
      (error: unknown) => {
        failure = error;
        settled = true;
        wake?.();
      },
    );

    let finished = false;
    try {
      for (;;) {
        while (queue.length > 0) yield queue.shift() as ChatChunk;
        if (settled) break;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      while (queue.length > 0) yield queue.shift() as ChatChunk;
      const ended = { expired, timeouts, options, partial: text, closed: closing.aborted };
      if (failure !== undefined) throw this.failure(failure, resolved.name, ended);
      if (outcome?.stopReason === 'abort' || control.signal.aborted) throw this.failure(undefined, resolved.name, ended);
      const endedAt = performance.now();
      const usage: Usage = { promptTokens: outcome?.promptTokens ?? 0, completionTokens, totalTokens: (outcome?.promptTokens ?? 0) + completionTokens };
      const timings: Timings = { totalMs: Math.round(endedAt - started) };
      if (loadMs !== undefined) timings.loadMs = Math.round(loadMs);
      if (firstTokenAt !== undefined && outcome !== undefined) {
        timings.promptEvalMs = Math.round(firstTokenAt - outcome.evalStart);
        timings.evalMs = Math.round(endedAt - firstTokenAt);
        if (completionTokens > 1 && endedAt > firstTokenAt) timings.tokensPerSecond = (completionTokens - 1) / ((endedAt - firstTokenAt) / 1000);
        if (timings.promptEvalMs > 0 && usage.promptTokens !== undefined) timings.promptTokensPerSecond = usage.promptTokens / (timings.promptEvalMs / 1000);
      }
      const done: ChatChunk = {
        content: '',
        done: true,
        doneReason: outcome?.stopReason === 'maxTokens' ? 'length' : 'stop',
        usage,
        timings,
        model: resolved.name,
        contextLength: contextSize,
      };
      finished = true;
      yield done;
    } finally {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      options.signal?.removeEventListener('abort', onAbort);
      closing.removeEventListener('abort', onAbort);
      if (!settled) {
        // The consumer left the loop: stop generating now, and wait so the next call starts clean.
        control.abort();
        await work.catch(() => undefined);
      }
      if (!finished) this.logger.debug({ model: resolved.name, tokens: completionTokens }, 'generation stopped before the end');
      this.scheduleUnload(request.keepAlive);
    }
  }

  /** The error for a call that ended without its answer. */
  private failure(
    error: unknown,
    model: string,
    ended: { expired: Exclude<TimeoutPhase, 'connect'> | undefined; timeouts: Timeouts; options: CallOptions; partial: string; closed: boolean },
  ): unknown {
    const { expired, timeouts, options, partial, closed } = ended;
    const partialText = partial === '' ? {} : { partialText: partial };
    if (expired !== undefined) {
      const ms = expired === 'load' ? timeouts.loadMs : expired === 'idle' ? timeouts.idleMs : timeouts.requestMs;
      const setting = PHASE_SETTING[expired];
      return new ProviderError({
        provider: EMBEDDED,
        code: 'timeout',
        phase: expired,
        model,
        setting,
        ...partialText,
        message: `The embedded engine took longer than ${Math.round(ms / 100) / 10} s ${PHASE_WORDS[expired]} for ${model}; raise ${setting.option} or use a smaller model.`,
        ...(error === undefined ? {} : { cause: error }),
      });
    }
    if (options.signal?.aborted === true || closed) {
      return new ProviderError({
        provider: EMBEDDED,
        code: 'aborted',
        model,
        ...partialText,
        message: closed ? 'The embedded provider was closed during the request.' : 'The request was cancelled.',
        ...(error === undefined ? {} : { cause: error }),
      });
    }
    if (error instanceof ProviderError) return error;
    return new ProviderError({
      provider: EMBEDDED,
      code: 'server_error',
      retryable: false,
      model,
      ...partialText,
      message: `The embedded engine failed while answering with ${model} (${(error as Error)?.message ?? String(error)}).`,
      cause: error,
    });
  }

  // ---- the request, translated ------------------------------------------------------------

  private refuseWhatItCannotDo(request: ChatRequest, model: string): void {
    const refuse = (what: string): never => {
      throw new ProviderError({ provider: EMBEDDED, code: 'unsupported', model, message: `The embedded engine does not support ${what}; start \`ollama serve\` for that request.` });
    };
    if (request.tools !== undefined && request.tools.length > 0) refuse('tools');
    if (request.messages.some((m) => m.images !== undefined && m.images.length > 0)) refuse('images');
    if (request.logprobs === true) refuse('log probabilities');
  }

  /**
   * The conversation as node-llama-cpp's chat history: the request's system prompt (else the
   * model's), the model's MESSAGE turns, then the request's messages.
   */
  private history(resolved: ResolvedModel, request: ChatRequest): ChatHistoryItem[] {
    const messages: ChatMessage[] = request.messages.filter((m) => m.role !== 'tool');
    const system = messages.filter((m) => m.role === 'system').map((m) => m.content);
    const items: ChatHistoryItem[] = [];
    const systemText = system.length > 0 ? system.join('\n\n') : resolved.system;
    if (systemText !== undefined && systemText !== '') items.push({ type: 'system', text: systemText });
    for (const m of [...resolved.messages, ...messages.filter((x) => x.role !== 'system')]) {
      if (m.role === 'system') items.push({ type: 'system', text: m.content });
      else if (m.role === 'user') items.push({ type: 'user', text: m.content });
      else items.push({ type: 'model', response: [m.content] });
    }
    items.push({ type: 'model', response: [] });
    return items;
  }

  /** Sampling from the model's parameters, under the provider's options, under the request's. */
  private sampling(resolved: ResolvedModel, request: ChatRequest): Record<string, unknown> {
    const o: GenerationOptions = { ...OLLAMA_SAMPLING, ...resolved.params, ...this.defaults, ...request.options };
    const gen: Record<string, unknown> = {};
    const temperature = num(o.temperature);
    if (temperature !== undefined) gen.temperature = temperature;
    const topK = num(o.top_k);
    if (topK !== undefined) gen.topK = topK;
    const topP = num(o.top_p);
    if (topP !== undefined) gen.topP = topP;
    const minP = num(o.min_p);
    if (minP !== undefined) gen.minP = minP;
    const seed = num(o.seed);
    if (seed !== undefined && seed >= 0) gen.seed = seed;
    const predict = num(o.num_predict);
    if (predict !== undefined && predict > 0) gen.maxTokens = predict;
    const stop = strings(o.stop);
    if (stop.length > 0) gen.customStopTriggers = stop;
    // Like Ollama's own engine, no repeat penalty unless one is asked for.
    const penalty = num(o.repeat_penalty);
    const presence = num(o.presence_penalty);
    const frequency = num(o.frequency_penalty);
    if ((penalty !== undefined && penalty !== 1) || (presence ?? 0) !== 0 || (frequency ?? 0) !== 0) {
      const lastN = num(o.repeat_last_n);
      gen.repeatPenalty = {
        ...(penalty === undefined ? {} : { penalty }),
        ...(presence === undefined ? {} : { presencePenalty: presence }),
        ...(frequency === undefined ? {} : { frequencyPenalty: frequency }),
        ...(lastN === undefined || lastN <= 0 ? {} : { lastTokens: lastN }),
      };
    }
    return gen;
  }

  private async grammarFor(llama: Llama, request: ChatRequest, model: string): Promise<LlamaGrammar | undefined> {
    if (request.format === undefined) return undefined;
    try {
      if (request.format === 'json') return await llama.getGrammarFor('json');
      return await llama.createGrammarForJsonSchema(request.format as never);
    } catch (error) {
      throw new ProviderError({
        provider: EMBEDDED,
        code: 'bad_request',
        model,
        message: `The embedded engine cannot turn this JSON schema into a grammar (${(error as Error).message}); simplify the schema or use format "json".`,
        cause: error,
      });
    }
  }

  // ---- loading and unloading --------------------------------------------------------------

  private contextSizeFor(asked: number | undefined, facts: GgufFacts): number {
    const wanted = Math.max(EMBEDDED_MIN_CONTEXT, Math.floor(asked ?? this.contextDefault));
    return facts.contextLength !== undefined ? Math.min(wanted, facts.contextLength) : wanted;
  }

  private engine(): Promise<{ mod: LlamaModule; llama: Llama }> {
    this.llama ??= (async () => {
      const mod = await importEngine();
      const llama = await startLlama(mod, { gpu: this.gpu, logger: this.logger });
      return { mod, llama };
    })().catch((error: unknown) => {
      this.llama = undefined;
      throw error;
    });
    return this.llama;
  }

  private multimodalError(name: string, part: string): ProviderError {
    return new ProviderError({
      provider: EMBEDDED,
      code: 'unsupported',
      model: name,
      message: `The embedded engine cannot run ${name}: Ollama converted it with its ${part} tensors inside the model file, which llama.cpp cannot load.`,
      hint: 'Start `ollama serve` to use it.',
    });
  }

  /** The loaded model for `resolved`, loading it (and releasing any other) when needed. */
  private async ensureLoaded(
    resolved: ResolvedModel,
    request: ChatRequest,
    signal: AbortSignal,
  ): Promise<{ mod: LlamaModule; llama: Llama; state: Loaded; fresh: boolean }> {
    const { mod, llama } = await this.engine();
    throwIfAborted(signal, resolved.name);
    const current = this.loaded;
    if (current?.timer !== undefined) {
      clearTimeout(current.timer);
      delete current.timer;
    }
    const facts = current?.model.modelPath === resolved.modelPath ? current.facts : await ggufFacts(mod, resolved.modelPath);
    if (facts.multimodal !== undefined) throw this.multimodalError(resolved.name, facts.multimodal);
    const merged: GenerationOptions = { ...resolved.params, ...this.defaults, ...request.options };
    const asked = num(merged.num_ctx);
    const contextSize = this.contextSizeFor(asked, facts);
    // The model's PARAMETER num_thread (or the request's) wins over the provider's threads, as in Ollama.
    const wantedThreads = num(merged.num_thread);
    const threads = wantedThreads !== undefined && wantedThreads > 0 ? Math.floor(wantedThreads) : this.threads;
    if (current !== undefined && current.model.modelPath === resolved.modelPath && current.contextSize === contextSize && current.threads === threads) {
      current.model = resolved;
      return { mod, llama, state: current, fresh: false };
    }
    await this.unload();
    let llamaModel: LlamaModel;
    try {
      llamaModel = await llama.loadModel({ modelPath: resolved.modelPath, loadSignal: signal });
    } catch (error) {
      throwIfAborted(signal, resolved.name);
      throw new ProviderError({
        provider: EMBEDDED,
        code: 'unsupported',
        model: resolved.name,
        message: `llama.cpp could not load ${resolved.name} (${(error as Error).message.trim()}); the model may need a newer engine or \`ollama serve\`.`,
        cause: error,
      });
    }
    let context: LlamaContext;
    try {
      throwIfAborted(signal, resolved.name);
      context = await llamaModel.createContext({
        contextSize,
        sequences: 1,
        ...(threads === undefined ? {} : { threads }),
        createSignal: signal,
      });
    } catch (error) {
      await llamaModel.dispose();
      throwIfAborted(signal, resolved.name);
      throw new ProviderError({
        provider: EMBEDDED,
        code: 'server_error',
        retryable: false,
        model: resolved.name,
        message: `llama.cpp could not make a ${contextSize}-token context for ${resolved.name} (${(error as Error).message.trim()}); lower provider.embedded.context or num_ctx.`,
        cause: error,
      });
    }
    const template = resolved.template === undefined ? undefined : parseLegacyTemplate(resolved.template);
    const wrapper = template === undefined ? undefined : legacyTemplateWrapper(mod, template, llamaModel.tokens.shouldPrependBosToken);
    if (resolved.template !== undefined && template === undefined) {
      this.logger.debug({ model: resolved.name }, "the manifest's template is not a legacy one; the GGUF's own chat template applies");
    }
    const state: Loaded = { model: resolved, facts, llamaModel, context, sequence: context.getSequence(), contextSize, threads, wrapper };
    this.loaded = state;
    this.logger.debug({ model: resolved.name, contextSize, template: wrapper === undefined ? 'gguf' : 'manifest' }, 'model loaded');
    return { mod, llama, state, fresh: true };
  }

  /** Keeps the model for the keep-alive time (the request's, else the provider's), then releases it. */
  private scheduleUnload(requested: string | number | undefined): void {
    const state = this.loaded;
    if (state === undefined) return;
    const ms = requested === undefined ? this.keepAlive : (keepAliveMs(requested) ?? this.keepAlive);
    if (state.timer !== undefined) clearTimeout(state.timer);
    delete state.timer;
    if (ms < 0) return;
    if (ms === 0) {
      void this.unload();
      return;
    }
    state.timer = setTimeout(() => {
      if (this.loaded === state) void this.unload();
    }, ms);
    // A warm model must not keep the process alive.
    state.timer.unref();
  }

  private async unload(): Promise<void> {
    const state = this.loaded;
    if (state === undefined) return;
    this.loaded = undefined;
    if (state.timer !== undefined) clearTimeout(state.timer);
    try {
      await state.context.dispose();
      await state.llamaModel.dispose();
      this.logger.debug({ model: state.model.name }, 'model unloaded');
    } catch (error) {
      this.logger.warn({ model: state.model.name, err: (error as Error).message }, 'unloading the model failed');
    }
  }
}

function throwIfAborted(signal: AbortSignal, model: string): void {
  if (signal.aborted) throw new ProviderError({ provider: EMBEDDED, code: 'aborted', model, message: 'The request was cancelled.' });
}

/** Waits for the call ahead to finish, unless this one is cancelled (or the provider closed) first. */
async function waitFor(previous: Promise<void>, signal: AbortSignal | undefined, closing: AbortSignal, model: string): Promise<void> {
  const error = (): ProviderError =>
    new ProviderError({
      provider: EMBEDDED,
      code: 'aborted',
      model,
      message: closing.aborted ? 'The embedded provider was closed before the request started.' : 'The request was cancelled.',
    });
  if (closing.aborted || signal?.aborted === true) throw error();
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      previous,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(error());
        signal?.addEventListener('abort', onAbort, { once: true });
        closing.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    if (onAbort !== undefined) {
      signal?.removeEventListener('abort', onAbort);
      closing.removeEventListener('abort', onAbort);
    }
  }
}
