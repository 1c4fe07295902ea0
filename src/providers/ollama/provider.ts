/**
 * The Ollama provider: Omega's contract over Ollama's native HTTP API (`/api/*`), on the
 * shared undici transport.
 */
import { performance } from 'node:perf_hooks';
import type {
  CallOptions,
  ChatChunk,
  ChatRequest,
  ChatResponse,
  Context,
  ContextWindow,
  GenerationOptions,
  ModelInfo,
  ModelProvider,
  OutgoingMessage,
  Timeouts,
} from '../../core/types.js';
import { completeWithChat } from '../../core/types.js';
import type { TokenEstimator } from '../../core/context-fit.js';
import { ProviderError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import type { OllamaConfig } from './spec.js';
import { connectableOllamaUrl, resolveOllamaBaseUrl } from './base-url.js';
import { HttpTransport, resolveTimeouts } from '../../http/transport.js';
import { ProviderEndpoint } from '../shared/endpoint.js';
import type { CallErrors } from '../shared/endpoint.js';
import type { HttpResponse } from '../../http/transport.js';
import type { ErrorContext } from './errors.js';
import { errorFields } from '../shared/context.js';
import { lineFramer, readFrames, settleBody } from '../shared/stream-body.js';
import {
  fromHttpStatus,
  fromPullError,
  fromStreamError,
  errorValueText,
  protocolError,
  toProviderError,
} from './errors.js';
import {
  PROVIDER,
  buildChatBody,
  toModelDetails,
  toModelInfo,
  toRunningModel,
  toTimings,
  toLogprobs,
  toToolCalls,
  toUsage,
} from './wire.js';
import type { ChatDefaults } from './wire.js';
import { ChatStreamIterator } from './stream.js';
import { ContextManager } from './context-manager.js';
import type { PreparedChat } from './context-manager.js';
import { DEFAULT_OLLAMA_MODEL, OLLAMA_DEFAULT_TIMEOUTS } from './types.js';
import type {
  EmbedOptions,
  EmbedResult,
  ModelDetails,
  OllamaProviderOptions,
  OllamaStatus,
  PullProgress,
  RunningModel,
  WireChatResponse,
  WireListModel,
  WireRunningModel,
  WireShowResponse,
} from './types.js';


const JSON_HEADERS: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'omega' };
const GET_HEADERS: Record<string, string> = { 'user-agent': 'omega' };

type Method = 'GET' | 'POST' | 'DELETE';

/** Talks to one Ollama server. Implements the full {@link ModelProvider} contract plus Ollama's extras. */
export class OllamaProvider implements ModelProvider {
  /** Always `ollama`. */
  readonly name = 'ollama' as const;
  /** Ollama needs no key. */
  readonly requiresApiKey = false as const;
  /** The URL requests go to, without a trailing slash (wildcard binds mapped to loopback). */
  readonly baseUrl: string;
  /** Model used when a call names none. */
  readonly model: string;
  /** Where {@link baseUrl} came from. */
  readonly baseUrlSource: 'default' | 'config' | 'env';
  /** The default phase timeouts of this provider. */
  readonly timeouts: Readonly<Timeouts>;

  private readonly origin: string;
  private readonly basePath: string;
  private readonly keepAlive: string | number | undefined;
  private readonly defaultOptions: GenerationOptions | undefined;
  private readonly logger: Logger;
  private readonly transport: HttpTransport;
  private readonly endpoint: ProviderEndpoint;
  private readonly showConcurrency: number;
  /** `/api/show` answers by model digest: a digest names immutable content. */
  private readonly showCache = new Map<string, WireShowResponse>();
  /** Context windows, capabilities and the server's version, per model and per server. */
  private readonly context: ContextManager;

  constructor(opts: OllamaProviderOptions = {}) {
    const resolved = resolveOllamaBaseUrl({ value: opts.baseUrl, env: opts.env });
    const url = new URL(connectableOllamaUrl(resolved.url));
    const source = resolved.source === 'config' ? (opts.baseUrlSource ?? 'config') : resolved.source;
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.baseUrl = this.origin + this.basePath;
    this.baseUrlSource = source;
    this.model = opts.model !== undefined && opts.model.trim() !== '' ? opts.model.trim() : DEFAULT_OLLAMA_MODEL;
    this.keepAlive = opts.keepAlive;
    this.defaultOptions = opts.options;
    this.timeouts = resolveTimeouts(OLLAMA_DEFAULT_TIMEOUTS, opts.timeouts);
    this.logger = (opts.logger ?? silentLogger).child({ provider: PROVIDER });
    this.showConcurrency = Math.max(1, opts.showConcurrency ?? 4);
    this.transport = new HttpTransport({
      timeouts: this.timeouts,
      logger: this.logger,
      ...(opts.connect === undefined ? {} : { connect: opts.connect }),
    });
    this.endpoint = new ProviderEndpoint({
      transport: this.transport,
      origin: this.origin,
      basePath: this.basePath,
      getHeaders: GET_HEADERS,
      jsonHeaders: JSON_HEADERS,
      logger: this.logger,
      name: PROVIDER,
    });
    this.context = new ContextManager({
      api: {
        version: (o) => this.version(o),
        digests: (o) => this.digests(o),
        show: (model, o) => this.show(model, o),
        ps: (o) => this.ps(o),
      },
      logger: this.logger,
      ...(opts.context === undefined ? {} : { mode: opts.context }),
      ...(opts.maxContext === undefined ? {} : { maxContext: opts.maxContext }),
      ...(opts.options === undefined ? {} : { defaultOptions: opts.options }),
      errorFields: { baseUrl: this.baseUrl, baseUrlSource: this.baseUrlSource },
    });
  }

  /** A provider from the loaded `[provider.ollama]` section. */
  static fromConfig(config: OllamaConfig, logger?: Logger): OllamaProvider {
    return new OllamaProvider({
      baseUrl: config.baseUrl,
      baseUrlSource: config.baseUrlSource,
      model: config.model,
      keepAlive: config.keepAlive,
      timeouts: config.timeouts,
      options: config.options,
      ...(config.context === undefined ? {} : { context: config.context }),
      ...(config.maxContext === undefined ? {} : { maxContext: config.maxContext }),
      ...(logger === undefined ? {} : { logger }),
    });
  }

  // ---- contract -------------------------------------------------------------------------

  /** Answers the current message of `context` (system prompt, history, then the user's message). */
  async complete(context: Context, options?: CallOptions): Promise<OutgoingMessage> {
    return completeWithChat(this, context, options);
  }

  /**
   * `GET /` within `timeoutMs` (2 s by default): true when the server answers 200 ("Ollama is
   * running"). The cheapest liveness probe, for health checks that run often. Never throws.
   */
  async heartbeat(options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<boolean> {
    return this.endpoint.probe('/', {
      signal: options?.signal,
      timeoutMs: options?.timeoutMs ?? 2000,
      connectMs: this.timeouts.connectMs,
    });
  }

  /** `GET /api/tags` within `timeoutMs` (2 s by default): true on 200. Never throws. */
  async isAvailable(options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<boolean> {
    return this.endpoint.probe('/api/tags', {
      signal: options?.signal,
      timeoutMs: options?.timeoutMs ?? 2000,
      connectMs: this.timeouts.connectMs,
    });
  }

  /**
   * Installed models from `/api/tags`, enriched from `/api/show` (context window, capabilities)
   * with bounded concurrency and a cache by digest. A model whose `/api/show` fails is still
   * listed, with default capabilities and no context window.
   */
  async listModels(options?: CallOptions): Promise<ModelInfo[]> {
    const tags = await this.json<{ models?: WireListModel[] | null }>('GET', '/api/tags', undefined, options);
    const models = tags.models ?? [];
    if (!Array.isArray(models)) throw protocolError('"models" is not a list', this.ctx('GET', '/api/tags'));
    const shows = await mapLimit(models, this.showConcurrency, (m) => this.showForListing(m, options));
    return models.map((m, i) => toModelInfo(m, shows[i]));
  }

  /**
   * A chat answer in one piece (`stream: false`). Ollama sends nothing until the answer is
   * complete, so the load timeout covers the whole generation here; use {@link chatStream} for
   * long answers.
   */
  async chat(request: ChatRequest, options?: CallOptions): Promise<ChatResponse> {
    const start = performance.now();
    const model = request.model ?? this.model;
    const prepared = await this.context.prepare(request, model, options);
    const body = buildChatBody(prepared.request, this.chatDefaults(), false);
    let res: WireChatResponse;
    try {
      res = await this.json<WireChatResponse>('POST', '/api/chat', body, options, model, false);
    } catch (error) {
      throw await this.withNumbers(prepared, error, options);
    }
    const wire = res.message ?? {};
    const message: ChatResponse['message'] = {
      role: 'assistant',
      content: typeof wire.content === 'string' ? wire.content : '',
    };
    if (typeof wire.thinking === 'string' && wire.thinking !== '') message.thinking = wire.thinking;
    if (Array.isArray(wire.tool_calls) && wire.tool_calls.length > 0) message.toolCalls = toToolCalls(wire.tool_calls);
    const out: ChatResponse = {
      message,
      model: typeof res.model === 'string' ? res.model : model,
      usage: toUsage(res),
      timings: toTimings(res),
      processingTimeMs: performance.now() - start,
    };
    // Ollama aggregates the stream server-side; without `done` it ended early (its repeat guard).
    if (res.done !== true) out.doneReason = 'incomplete';
    else if (typeof res.done_reason === 'string' && res.done_reason !== '') out.doneReason = res.done_reason;
    if (Array.isArray(res.logprobs) && res.logprobs.length > 0) out.logprobs = toLogprobs(res.logprobs);
    const sent = sentContext(body);
    if (sent !== undefined) out.contextLength = sent;
    if (this.context.settle(prepared, out.usage.promptTokens).truncated) out.truncated = true;
    return out;
  }

  /**
   * Streams a chat answer chunk by chunk. The last chunk has `done: true`; if Ollama ends the
   * stream without one, a final chunk with `doneReason: 'incomplete'` is added. Leaving the
   * `for await` early cancels the HTTP request.
   */
  chatStream(request: ChatRequest, options?: CallOptions): AsyncIterable<ChatChunk> {
    const model = request.model ?? this.model;
    const ctx = this.ctx('POST', '/api/chat', model, true);
    let prepared: PreparedChat | undefined;
    let sent: number | undefined;
    const open = async (): Promise<HttpResponse> => {
      prepared = await this.context.prepare(request, model, options);
      const body = buildChatBody(prepared.request, this.chatDefaults(), true);
      sent = sentContext(body);
      try {
        return await this.send('POST', '/api/chat', JSON.stringify(body), options, ctx);
      } catch (error) {
        throw await this.withNumbers(prepared, error, options);
      }
    };
    const onFinal = (chunk: ChatChunk): void => {
      if (prepared === undefined) return;
      if (sent !== undefined) chunk.contextLength = sent;
      if (this.context.settle(prepared, chunk.usage?.promptTokens).truncated) chunk.truncated = true;
    };
    return new ChatStreamIterator(open, model, ctx, this.logger, onFinal);
  }

  /**
   * Token estimates per model, calibrated from this server's `prompt_eval_count`s: pass it to
   * `fitMessages` to fit a conversation into {@link contextWindowFor} without the gateway.
   */
  get tokenEstimator(): TokenEstimator {
    return this.context.estimator;
  }

  /**
   * The context window the next request for `model` gets: an explicit `options.num_ctx`, the
   * window `context: 'auto'` chose, the window the model is loaded with (`/api/ps`), or the
   * server's default (4096, capped by the trained length). Loads nothing.
   */
  async contextWindowFor(model: string = this.model, options?: CallOptions): Promise<ContextWindow> {
    return this.context.windowFor(model, options);
  }

  // ---- Ollama extras ----------------------------------------------------------------------

  /** The server's version, e.g. `0.9.6`. */
  async version(options?: CallOptions): Promise<string> {
    const res = await this.json<{ version?: unknown }>('GET', '/api/version', undefined, options);
    if (typeof res.version !== 'string') throw protocolError('no "version" field', this.ctx('GET', '/api/version'));
    return res.version;
  }

  /**
   * `/api/status` (Ollama 0.16.2 and later): whether this server may run cloud models. Older
   * servers have no such endpoint: that is a `protocol` error saying so.
   */
  async status(options?: CallOptions): Promise<OllamaStatus> {
    const res = await this.json<{ cloud?: { disabled?: unknown; source?: unknown } }>('GET', '/api/status', undefined, options);
    const cloud = res.cloud;
    if (typeof cloud !== 'object' || cloud === null || typeof cloud.disabled !== 'boolean') {
      throw protocolError('no "cloud.disabled" field', this.ctx('GET', '/api/status'));
    }
    return { cloud: { disabled: cloud.disabled, source: typeof cloud.source === 'string' ? cloud.source : 'none' } };
  }

  /** Models currently loaded in memory, with when they will be unloaded. */
  async ps(options?: CallOptions): Promise<RunningModel[]> {
    const res = await this.json<{ models?: WireRunningModel[] | null }>('GET', '/api/ps', undefined, options);
    const models = res.models ?? [];
    if (!Array.isArray(models)) throw protocolError('"models" is not a list', this.ctx('GET', '/api/ps'));
    return models.map(toRunningModel);
  }

  /** What Ollama knows about an installed model; `model_not_found` when it is not installed. */
  async show(model: string, options?: CallOptions): Promise<ModelDetails> {
    const res = await this.json<WireShowResponse>('POST', '/api/show', { model }, options, model);
    return toModelDetails(model, res);
  }

  /** Embeddings of one input or several, from `/api/embed`. */
  async embed(model: string, input: string | string[], options?: CallOptions & EmbedOptions): Promise<EmbedResult> {
    // Not checked against the `embedding` capability up front: llama.cpp-engine models without it
    // still embed on both 0.9.6 and 0.17.4; new-engine ones (Gemma 3) are refused after loading.
    const body: Record<string, unknown> = { model, input };
    if (options?.truncate !== undefined) body.truncate = options.truncate;
    if (options?.dimensions !== undefined) body.dimensions = options.dimensions;
    const keepAlive = options?.keepAlive ?? this.keepAlive;
    if (keepAlive !== undefined) body.keep_alive = keepAlive;
    let res: { model?: string; embeddings?: number[][]; prompt_eval_count?: number; total_duration?: number };
    try {
      res = await this.json('POST', '/api/embed', body, options, model);
    } catch (error) {
      // The model's runner refused (500 on 0.9.6, 501 on 0.17.4): not a server fault worth a retry.
      if (error instanceof ProviderError && /does not support embeddings/.test(error.providerMessage ?? error.message)) {
        throw await this.context.embeddingRefused(model, error, options);
      }
      throw error;
    }
    if (!Array.isArray(res.embeddings)) throw protocolError('no "embeddings" list', this.ctx('POST', '/api/embed', model));
    const out: EmbedResult = { model: res.model ?? model, embeddings: res.embeddings };
    if (typeof res.prompt_eval_count === 'number') out.promptTokens = res.prompt_eval_count;
    if (typeof res.total_duration === 'number') out.totalMs = res.total_duration / 1e6;
    return out;
  }

  /**
   * Downloads a model, yielding Ollama's progress events. Throws a {@link ProviderError} when
   * Ollama reports an error (unknown model, registry unreachable) or the stream ends before `success`.
   * Gaps between progress events may last as long as the load timeout (hashing a large layer is silent).
   */
  pull(model: string, options?: CallOptions & { insecure?: boolean }): AsyncIterable<PullProgress> {
    return this.streamPull(model, options);
  }

  /** Unloads `model` (default: the configured one) from memory now. */
  async unload(model?: string, options?: CallOptions): Promise<void> {
    const name = model ?? this.model;
    await this.json('POST', '/api/chat', { model: name, messages: [], keep_alive: 0, stream: false }, options, name);
  }

  /** Releases pooled connections at once, so a CLI exits; in-flight calls fail with `aborted`. */
  async close(): Promise<void> {
    await this.transport.close();
  }

  // ---- internals --------------------------------------------------------------------------

  /** Installed models by name with their digests, from `/api/tags` alone (no `/api/show`): cheap enough to poll. */
  async digests(options?: CallOptions): Promise<Map<string, string>> {
    const tags = await this.json<{ models?: WireListModel[] | null }>('GET', '/api/tags', undefined, options);
    const out = new Map<string, string>();
    for (const m of Array.isArray(tags.models) ? tags.models : []) {
      if (typeof m.name === 'string' && typeof m.digest === 'string' && m.digest !== '') out.set(m.name, m.digest);
    }
    return out;
  }

  /** A `context_overflow` with the numbers the provider knows; any other error as it is. */
  private async withNumbers(prepared: PreparedChat, error: unknown, options: CallOptions | undefined): Promise<unknown> {
    if (!(error instanceof ProviderError) || error.code !== 'context_overflow') return error;
    return this.context.overflowFromServer(prepared, error, options);
  }

  private ctx(method: string, endpoint: string, model?: string, streamed?: boolean): ErrorContext {
    const ctx: ErrorContext = { baseUrl: this.baseUrl, baseUrlSource: this.baseUrlSource, method, endpoint };
    if (model !== undefined) ctx.model = model;
    if (streamed !== undefined) ctx.streamed = streamed;
    return ctx;
  }

  private chatDefaults(): ChatDefaults {
    return { model: this.model, keepAlive: this.keepAlive, options: this.defaultOptions };
  }

  /** This request's failures in Ollama's words. */
  private errors(ctx: ErrorContext): CallErrors {
    return {
      failure: (error) => toProviderError(error, ctx),
      status: (status, headers, text) => fromHttpStatus(status, headers, text, ctx),
      unreadable: (detail, cause) => protocolError(detail, ctx, cause),
    };
  }

  /** Sends a request; resolves on a 2xx status and throws a mapped ProviderError otherwise. */
  private send(method: Method, endpoint: string, body: string | undefined, options: CallOptions | undefined, ctx: ErrorContext): Promise<HttpResponse> {
    return this.endpoint.send(method, endpoint, body, options, this.errors(ctx));
  }

  /** A non-streamed JSON call; an `{"error":...}` body is a ProviderError even with status 200. */
  private async json<T>(
    method: Method,
    endpoint: string,
    body: unknown,
    options: CallOptions | undefined,
    model?: string,
    streamed?: boolean,
  ): Promise<T> {
    const ctx = this.ctx(method, endpoint, model, streamed);
    const parsed = await this.endpoint.json(method, endpoint, body === undefined ? undefined : JSON.stringify(body), options, this.errors(ctx));
    const error = (parsed as { error?: unknown }).error;
    if (error !== undefined) throw fromStreamError(errorValueText(error) ?? 'unknown error', ctx);
    return parsed as T;
  }

  private async *streamPull(
    model: string,
    options: (CallOptions & { insecure?: boolean }) | undefined,
  ): AsyncGenerator<PullProgress> {
    const ctx = this.ctx('POST', '/api/pull', model);
    const req: Record<string, unknown> = { model, stream: true };
    if (options?.insecure === true) req.insecure = true;
    // Verifying a multi-gigabyte layer prints nothing for minutes: allow gaps as long as a load.
    const { idleMs, loadMs } = this.timeouts;
    const pullIdle = idleMs === 0 || loadMs === 0 ? 0 : Math.max(idleMs, loadMs);
    const callOptions: CallOptions = { ...options, timeouts: { idleMs: pullIdle, ...options?.timeouts } };
    const res = await this.send('POST', '/api/pull', JSON.stringify(req), callOptions, ctx);
    const body = res.body;
    let success = false;
    const frames = readFrames(body, lineFramer(), { fail: (error) => toProviderError(error, ctx), complete: () => success });
    try {
      for await (const lines of frames) {
        for (const line of lines) {
          const progress = parsePullLine(line, model, ctx);
          if (progress.status === 'success') success = true;
          yield progress;
        }
      }
      if (!success) {
        throw new ProviderError({
          provider: PROVIDER,
          code: 'server_error',
          message: `Ollama ended the pull of '${model}' before it finished; run the pull again to resume it.`,
          ...errorFields(ctx),
        });
      }
    } finally {
      settleBody(body, success);
    }
  }

  private async showForListing(m: WireListModel, options: CallOptions | undefined): Promise<WireShowResponse | undefined> {
    const key = m.digest !== undefined && m.digest !== '' ? m.digest : undefined;
    if (key !== undefined) {
      const cached = this.showCache.get(key);
      if (cached !== undefined) return cached;
    }
    try {
      const show = await this.json<WireShowResponse>('POST', '/api/show', { model: m.name }, options, m.name);
      if (key !== undefined) this.showCache.set(key, show);
      return show;
    } catch (error) {
      // The caller giving up is not one model's failure.
      if (options?.signal?.aborted) throw error;
      this.logger.warn({ model: m.name, err: (error as Error).message }, 'could not read model details');
      return undefined;
    }
  }
}

function parsePullLine(line: string, model: string, ctx: ErrorContext): PullProgress {
  let obj: { status?: unknown; digest?: unknown; total?: unknown; completed?: unknown; error?: unknown };
  try {
    obj = JSON.parse(line) as typeof obj;
  } catch (cause) {
    throw protocolError('a progress line that is not JSON', ctx, cause);
  }
  if (typeof obj !== 'object' || obj === null) throw protocolError('a progress line that is not a JSON object', ctx);
  if (obj.error !== undefined) throw fromPullError(errorValueText(obj.error) ?? 'unknown error', { ...ctx, model });
  const p: PullProgress = { status: typeof obj.status === 'string' ? obj.status : '' };
  if (typeof obj.digest === 'string') p.digest = obj.digest;
  if (typeof obj.total === 'number') p.total = obj.total;
  if (typeof obj.completed === 'number') p.completed = obj.completed;
  return p;
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The `num_ctx` a request body carries, if any. */
function sentContext(body: Record<string, unknown>): number | undefined {
  const options = body.options as { num_ctx?: unknown } | undefined;
  return typeof options?.num_ctx === 'number' ? options.num_ctx : undefined;
}
