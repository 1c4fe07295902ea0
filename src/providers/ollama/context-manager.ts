/**
 * What the Ollama provider knows about context windows and capabilities, per server and per
 * model: the server's version (learned once), each model's `/api/show` facts (cached by digest),
 * the window `context = "auto"` chose for each model (sticky), and a token estimator calibrated
 * from the server's own counts. The provider asks it to prepare a request and to check an answer.
 */
import type { CallOptions, ChatRequest, ContextWindow, GenerationOptions } from '../../core/types.js';
import type { Logger } from '../../core/logger.js';
import { TokenEstimator } from '../../core/context-fit.js';
import { ProviderError } from '../../core/errors.js';
import {
  DEFAULT_MAX_CONTEXT,
  SERVER_DEFAULT_CONTEXT,
  TRUNCATE_FLAG_SINCE,
  autoContext,
  capabilityError,
  embeddingCapabilityError,
  looksTruncated,
  overflowError,
  requiredCapabilities,
  versionAtLeast,
} from './context.js';
import type { ContextMode, ErrorFields } from './context.js';
import type { ModelDetails, RunningModel } from './types.js';

/**
 * How far an uncalibrated estimate may exceed a window before the prompt is refused unsent: the
 * default ratio errs high by about this much on English text.
 */
const UNCALIBRATED_MARGIN = 1.25;

/**
 * How long one `/api/ps` answer serves: the gateway asks for the window on every request, and a
 * busy server front end should not double its calls to Ollama for it.
 */
const PS_TTL_MS = 1_000;

/** Failures that say nothing about the server's answer, only that there was none this time. */
const TRANSIENT: ReadonlySet<string> = new Set(['unavailable', 'timeout', 'aborted', 'connection_lost']);

/** How long a model name is trusted to point at the same digest before `/api/tags` is asked again. */
const DIGEST_TTL_MS = 30_000;

/** The calls the manager makes to the server, supplied by the provider. */
export interface ContextApi {
  version(options?: CallOptions): Promise<string>;
  /** Installed models' names and digests (`/api/tags`). */
  digests(options?: CallOptions): Promise<Map<string, string>>;
  show(model: string, options?: CallOptions): Promise<ModelDetails>;
  ps(options?: CallOptions): Promise<RunningModel[]>;
}

/** Options of {@link ContextManager}. */
export interface ContextManagerOptions {
  api: ContextApi;
  logger: Logger;
  /** `auto` sizes `num_ctx` to each prompt; `server` (the default) leaves the server's default. */
  mode?: ContextMode;
  /** The largest window `auto` chooses; {@link DEFAULT_MAX_CONTEXT} by default. */
  maxContext?: number;
  /** The provider's configured generation options (an explicit `num_ctx` there always wins). */
  defaultOptions?: GenerationOptions;
  /** Where requests go, for the fields of the errors raised here. */
  errorFields?: ErrorFields;
}

/** A request made ready to send, with what is needed to judge its answer. */
export interface PreparedChat {
  request: ChatRequest;
  model: string;
  /** The window the server will use: the `num_ctx` sent, or what the model is believed to have. */
  allocated: number;
  /** The prompt's tokens as the caller or the estimator counted them. */
  estimate: number;
  /** Whether `num_ctx` came from the caller or the provider's options. */
  explicit: boolean;
  /** Whether the server refuses an oversized prompt (`truncate: false` sent). */
  refuses: boolean;
  trained?: number;
}

function normalize(name: string): string {
  return name.includes(':') ? name : `${name}:latest`;
}

/** Per-server, per-model context and capability state of one {@link OllamaProvider}. */
export class ContextManager {
  /** Token estimates per model, calibrated from this server's prompt counts. */
  readonly estimator = new TokenEstimator();
  readonly mode: ContextMode;
  readonly maxContext: number;
  private readonly api: ContextApi;
  private readonly logger: Logger;
  private readonly defaultOptions: GenerationOptions | undefined;
  private readonly fields: ErrorFields;
  private versionOnce: Promise<string | undefined> | undefined;
  private readonly showByDigest = new Map<string, ModelDetails>();
  private readonly digestOf = new Map<string, { digest: string; at: number }>();
  /** The window `auto` chose per model: it only grows. */
  private readonly sticky = new Map<string, number>();
  private running: { at: number; models: Promise<RunningModel[]> } | undefined;
  /** `/api/show` (or `/api/tags`) refusals by model, kept as long as a digest, so a server without them is not asked each time. */
  private readonly refused = new Map<string, { at: number; error: unknown }>();

  constructor(opts: ContextManagerOptions) {
    this.api = opts.api;
    this.logger = opts.logger;
    this.mode = opts.mode ?? 'server';
    this.maxContext = opts.maxContext ?? DEFAULT_MAX_CONTEXT;
    this.defaultOptions = opts.defaultOptions;
    this.fields = opts.errorFields ?? {};
  }

  /** The server's version, asked once; undefined when it cannot be read (then nothing new is sent). */
  async version(options?: CallOptions): Promise<string | undefined> {
    this.versionOnce ??= this.api.version(options).catch((error: unknown) => {
      // The request itself meets (and reports) whatever went wrong. A server that answered
      // without a version is asked no more; one that could not be reached is asked again.
      const transient = error instanceof ProviderError && TRANSIENT.has(error.code);
      if (transient || !(error instanceof ProviderError)) this.versionOnce = undefined;
      this.logger.debug({ err: (error as Error).message }, 'server version unknown');
      return undefined;
    });
    return this.versionOnce;
  }

  /** Whether the server accepts `truncate: false` (Ollama 0.12.6 and later). */
  async refusesOversized(options?: CallOptions): Promise<boolean> {
    const version = await this.version(options);
    return version !== undefined && versionAtLeast(version, TRUNCATE_FLAG_SINCE);
  }

  /**
   * A model's `/api/show` facts, cached by digest (a digest names immutable content). The
   * name-to-digest mapping is re-read after {@link DIGEST_TTL_MS}, so a re-pulled model is seen.
   */
  async details(model: string, options?: CallOptions): Promise<ModelDetails> {
    const key = normalize(model);
    const refusal = this.refused.get(key);
    if (refusal !== undefined && Date.now() - refusal.at <= DIGEST_TTL_MS) throw refusal.error;
    try {
      return await this.lookUp(key, model, options);
    } catch (error) {
      // A server that answered "no" (an unknown model, no such endpoint) says the same for a while.
      if (error instanceof ProviderError && !TRANSIENT.has(error.code)) this.refused.set(key, { at: Date.now(), error });
      throw error;
    }
  }

  private async lookUp(key: string, model: string, options?: CallOptions): Promise<ModelDetails> {
    let known = this.digestOf.get(key);
    if (known === undefined || Date.now() - known.at > DIGEST_TTL_MS) {
      const digests = await this.api.digests(options);
      const now = Date.now();
      for (const [name, digest] of digests) this.digestOf.set(normalize(name), { digest, at: now });
      known = this.digestOf.get(key);
    }
    // Keyed by name too: the details carry the name, and one digest may be installed under several.
    const cacheKey = known === undefined ? undefined : `${key}@${known.digest}`;
    const cached = cacheKey === undefined ? undefined : this.showByDigest.get(cacheKey);
    if (cached !== undefined) return cached;
    // Not listed (e.g. a cloud model without a local digest): /api/show says whether it exists.
    const details = await this.api.show(model, options);
    if (cacheKey !== undefined) this.showByDigest.set(cacheKey, details);
    return details;
  }

  /** The `num_ctx` the caller or the provider's options set, if any. */
  private explicitContext(request: ChatRequest): number | undefined {
    const asked = request.options?.num_ctx ?? this.defaultOptions?.num_ctx;
    return typeof asked === 'number' && asked > 0 ? asked : undefined;
  }

  /** The loaded window of `model`, from `/api/ps` (Ollama 0.10 and later report it). */
  private async loaded(model: string, options?: CallOptions): Promise<number | undefined> {
    try {
      const key = normalize(model);
      if (this.running === undefined || Date.now() - this.running.at > PS_TTL_MS) {
        const models = this.api.ps(options);
        this.running = { at: Date.now(), models };
        // A failure is kept for the same second (awaited below); this only marks it handled.
        models.catch(() => undefined);
      }
      const running = (await this.running.models).find((m) => normalize(m.name) === key || normalize(m.model) === key);
      return running?.contextLength;
    } catch (error) {
      if (options?.signal?.aborted === true) throw error;
      return undefined;
    }
  }

  /** The window the next request for `model` gets: see {@link ContextWindow}. */
  async windowFor(model: string, options?: CallOptions): Promise<ContextWindow> {
    const answerTokens = this.defaultOptions?.num_predict;
    const extra = typeof answerTokens === 'number' && answerTokens > 0 ? { answerTokens } : {};
    const explicit = this.explicitContext({ messages: [] });
    if (explicit !== undefined) return { tokens: explicit, limit: explicit, source: 'options', ...extra };
    const details = await this.details(model, options);
    const trained = details.contextWindow;
    const withTrained = trained === undefined ? {} : { trained };
    const cap = (n: number): number => (trained === undefined ? n : Math.min(n, trained));
    const sticky = this.sticky.get(normalize(model));
    const loaded = sticky === undefined ? await this.loaded(model, options) : undefined;
    if (this.mode === 'auto') {
      const limit = cap(this.maxContext);
      const tokens = Math.min(limit, sticky ?? loaded ?? SERVER_DEFAULT_CONTEXT);
      return { tokens, limit, source: 'auto', ...withTrained, ...extra };
    }
    if (loaded !== undefined) return { tokens: loaded, limit: loaded, source: 'loaded', ...withTrained, ...extra };
    const fallback = cap(SERVER_DEFAULT_CONTEXT);
    return { tokens: fallback, limit: fallback, source: 'server-default', ...withTrained, ...extra };
  }

  /**
   * Checks what the request needs against the model's capabilities (before anything loads),
   * sets `truncate: false` where the server can refuse, and sizes `num_ctx` under `auto`.
   */
  async prepare(request: ChatRequest, model: string, options?: CallOptions): Promise<PreparedChat> {
    const needs = requiredCapabilities(request);
    const explicit = this.explicitContext(request);
    const sizing = this.mode === 'auto' && explicit === undefined;
    let details: ModelDetails | undefined;
    if (needs.length > 0 || sizing) {
      try {
        details = await this.details(model, options);
      } catch (error) {
        // A missing model or a down server is for the chat call itself to report, in its words.
        if (options?.signal?.aborted === true) throw error;
        this.logger.debug({ model, err: (error as Error).message }, 'model details unavailable; no capability check');
      }
    }
    const refusal = details === undefined ? undefined : capabilityError(model, details.capabilities, needs, { ...this.fields, endpoint: 'POST /api/chat' });
    if (refusal !== undefined) throw refusal;

    const out: ChatRequest = { ...request };
    const refuses = await this.refusesOversized(options);
    if (refuses && request.truncate === undefined) out.truncate = false;
    const estimate = request.promptTokens ?? this.estimator.prompt(request.messages, model);
    const trained = details?.contextWindow;
    const prepared: PreparedChat = { request: out, model, allocated: SERVER_DEFAULT_CONTEXT, estimate, explicit: explicit !== undefined, refuses };
    if (trained !== undefined) prepared.trained = trained;
    if (explicit !== undefined) {
      prepared.allocated = explicit;
      return prepared;
    }
    const key = normalize(model);
    if (sizing) {
      const reserve = this.answerReserve(request);
      const limit = Math.min(this.maxContext, trained ?? Infinity);
      let current = this.sticky.get(key);
      if (current === undefined) current = await this.loaded(model, options);
      if (current !== undefined) current = Math.min(current, limit);
      // A server that cannot refuse would cut the prompt: refuse here when it surely cannot fit.
      const margin = this.estimator.isCalibrated(model) ? 1 : UNCALIBRATED_MARGIN;
      if (!refuses && estimate > limit * margin) throw this.overflow({ ...prepared, allocated: limit });
      const size = autoContext(estimate + reserve, current, limit);
      if (size !== undefined) {
        if (size !== this.sticky.get(key)) {
          this.logger.info({ model, num_ctx: size, was: current ?? null, estimate }, 'sizing the context window (num_ctx) to the conversation');
        }
        this.sticky.set(key, size);
        this.running = undefined;
        out.options = { ...request.options, num_ctx: size };
        prepared.allocated = size;
      } else if (current !== undefined) {
        prepared.allocated = current;
      }
      return prepared;
    }
    // `server`: the window is whatever the server gives; worth asking only when it matters.
    if (estimate > SERVER_DEFAULT_CONTEXT) prepared.allocated = (await this.loaded(model, options)) ?? SERVER_DEFAULT_CONTEXT;
    return prepared;
  }

  private answerReserve(request: ChatRequest): number {
    const asked = request.options?.num_predict ?? this.defaultOptions?.num_predict;
    return typeof asked === 'number' && asked > 0 ? asked : 1024;
  }

  /**
   * Judges an answer: on a server that cannot refuse an oversized prompt, whether it cut this one
   * (then a warning is logged and nothing is learned from the count); otherwise the count
   * calibrates the estimator.
   */
  settle(prepared: PreparedChat, promptEvalCount: number | undefined): { truncated: boolean } {
    if (promptEvalCount === undefined) return { truncated: false };
    const truncated =
      prepared.request.truncate !== false &&
      looksTruncated({
        promptEvalCount,
        allocated: prepared.allocated,
        estimate: prepared.estimate,
        calibrated: this.estimator.isCalibrated(prepared.model),
      });
    if (truncated) {
      this.logger.warn(
        { model: prepared.model, promptEvalCount, contextLength: prepared.allocated, estimate: prepared.estimate },
        'the server cut the prompt to its context window without an error; the answer saw only part of it',
      );
      return { truncated };
    }
    this.estimator.observe(prepared.model, prepared.request.messages, promptEvalCount);
    return { truncated };
  }

  /**
   * A `context_overflow` from the server, with the numbers and what to do; reads the model's
   * trained length (cached) when the request did not need it, for the advice.
   */
  async overflowFromServer(prepared: PreparedChat, error: ProviderError, options?: CallOptions): Promise<ProviderError> {
    if (prepared.trained === undefined) {
      try {
        const trained = (await this.details(prepared.model, options)).contextWindow;
        if (trained !== undefined) return this.overflow({ ...prepared, trained }, error);
      } catch {
        // The numbers known so far still help.
      }
    }
    return this.overflow(prepared, error);
  }

  /** A `context_overflow` with the numbers and what to do. */
  overflow(prepared: PreparedChat, error?: ProviderError): ProviderError {
    return overflowError(
      {
        model: prepared.model,
        contextLength: prepared.allocated,
        promptTokens: prepared.estimate,
        mode: this.mode,
        limit: Math.min(this.maxContext, prepared.trained ?? Infinity),
        explicit: prepared.explicit,
        ...(prepared.trained === undefined ? {} : { trained: prepared.trained }),
      },
      error,
      error?.providerMessage,
      { ...this.fields, endpoint: 'POST /api/chat' },
    );
  }

  /** The server's refusal to embed with `model`, as `unsupported` naming the model's capabilities. */
  async embeddingRefused(model: string, error: ProviderError, options?: CallOptions): Promise<ProviderError> {
    let capabilities: string[] = [];
    try {
      capabilities = (await this.details(model, options)).capabilities;
    } catch {
      // The refusal is what matters.
    }
    const fields: ErrorFields = {
      ...this.fields,
      endpoint: 'POST /api/embed',
      ...(error.status === undefined ? {} : { status: error.status }),
      ...(error.providerMessage === undefined ? {} : { providerMessage: error.providerMessage }),
    };
    return embeddingCapabilityError(model, capabilities.length > 0 ? capabilities : ['not listed by the server'], fields) ?? error;
  }
}
