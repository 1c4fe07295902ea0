/**
 * The shared core of every provider that speaks OpenAI's Chat Completions: OpenAI itself, any
 * OpenAI-compatible server, and OpenRouter. Subclasses give their identity (name, key variable,
 * defaults) and override the few hooks where their dialect differs.
 */
import { performance } from 'node:perf_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import type {
  CallOptions,
  ChatChunk,
  ChatRequest,
  ChatResponse,
  Context,
  ModelInfo,
  ModelProvider,
  OutgoingMessage,
  ThinkSetting,
  Timeouts,
} from '../../core/types.js';
import { completeWithChat } from '../../core/types.js';
import type { ProviderError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import { HttpTransport, resolveTimeouts } from '../../http/transport.js';
import { ProviderEndpoint } from '../shared/endpoint.js';
import type { CallErrors } from '../shared/endpoint.js';
import type { HttpResponse } from '../../http/transport.js';
import type { ApiErrorContext } from './errors.js';
import { fromHttpStatus, fromStreamError, protocolError, toProviderError } from './errors.js';
import { streamCompletion } from './stream.js';
import { hostedApiKey, hostedBaseUrl } from '../hosted.js';
import { applyOptions, baseChatBody, toModelInfo } from './wire.js';
import type { OptionDialect } from './wire.js';
import { OPENAI_DEFAULT_TIMEOUTS } from './types.js';
import type { OpenAICompatibleOptions, WireModel } from './types.js';

/** Who a compatible provider is: the names its errors and defaults use. */
export interface CompatibleIdentity {
  /** Provider name in config, metadata and model ids, e.g. `openai`. */
  name: string;
  /** Service name in sentences, e.g. `OpenAI`. */
  label: string;
  /** Environment variable the key comes from when none is given. */
  keyEnv: string;
  /** Dotted config section, e.g. `provider.openai`. */
  configSection: string;
  defaultBaseUrl: string;
  defaultModel: string;
  /** Extra advice when the key is missing. */
  missingKeyHint?: string;
  /**
   * True when other servers speak this API too (OpenAI's): at a base URL on another host,
   * messages name the server by its URL instead of {@link label}.
   */
  spokenByOthers?: boolean;
}

/** Default limit of {@link OpenAICompatibleProvider.isAvailable}. */
const AVAILABILITY_TIMEOUT_MS = 3000;

type Method = 'GET' | 'POST';

/** A Chat Completions provider; see {@link OpenAIProvider} and `OpenRouterProvider`. */
export abstract class OpenAICompatibleProvider implements ModelProvider {
  /** Stable provider name, e.g. `openai`. */
  readonly name: string;
  /** A hosted API always needs a key. */
  readonly requiresApiKey = true as const;
  /** The URL requests go to (API version path included), without a trailing slash. */
  readonly baseUrl: string;
  /** Model used when a call names none. */
  readonly model: string;
  /** The default phase timeouts of this provider. */
  readonly timeouts: Readonly<Timeouts>;
  /** Default output limit, when configured. */
  readonly maxTokens: number | undefined;

  /** Who this provider is. */
  protected readonly identity: CompatibleIdentity;
  protected readonly logger: Logger;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly transport: HttpTransport;
  // ES private fields: not shown by util.inspect or console.log of the provider, not enumerable.
  readonly #apiKey: string;
  /** Private so the key in its headers is unreachable from outside. */
  readonly #endpoint: ProviderEndpoint;

  protected constructor(identity: CompatibleIdentity, opts: OpenAICompatibleOptions = {}) {
    this.identity = identity;
    this.name = identity.name;
    const key = hostedApiKey(opts.apiKey, opts.env ?? process.env, {
      label: identity.label,
      keyEnv: identity.keyEnv,
      configSection: identity.configSection,
      ...(identity.missingKeyHint === undefined ? {} : { hint: identity.missingKeyHint }),
    });
    this.#apiKey = key;
    const url = hostedBaseUrl(opts.baseUrl, identity.configSection, identity.defaultBaseUrl);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.baseUrl = this.origin + this.basePath;
    this.model = opts.model?.trim() || identity.defaultModel;
    this.maxTokens = typeof opts.maxTokens === 'number' && opts.maxTokens > 0 ? opts.maxTokens : undefined;
    this.timeouts = resolveTimeouts(OPENAI_DEFAULT_TIMEOUTS, opts.timeouts);
    this.logger = (opts.logger ?? silentLogger).child({ provider: identity.name });
    const common = { 'user-agent': 'omega', ...opts.headers, authorization: `Bearer ${key}` };
    this.transport = new HttpTransport({
      timeouts: this.timeouts,
      logger: this.logger,
      ...(opts.connect === undefined ? {} : { connect: opts.connect }),
    });
    this.#endpoint = new ProviderEndpoint({
      transport: this.transport,
      origin: this.origin,
      basePath: this.basePath,
      getHeaders: { accept: 'application/json', ...common },
      jsonHeaders: { 'content-type': 'application/json', accept: 'text/event-stream', ...common },
      logger: this.logger,
      name: identity.name,
    });
  }

  // ---- contract -------------------------------------------------------------------------

  /** Answers the current message of `context` (system prompt, history, then the user's message). */
  async complete(context: Context, options?: CallOptions): Promise<OutgoingMessage> {
    return completeWithChat(this, context, options);
  }

  /** A cheap authenticated request within `timeoutMs` (3 s by default): true on 200. Never throws. */
  async isAvailable(options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<boolean> {
    return this.#endpoint.probe(this.availabilityPath(), {
      signal: options?.signal,
      timeoutMs: options?.timeoutMs ?? AVAILABILITY_TIMEOUT_MS,
      connectMs: this.timeouts.connectMs,
    });
  }

  /** The models `GET /models` lists, sorted by name. */
  async listModels(options?: CallOptions): Promise<ModelInfo[]> {
    const ctx = this.ctx('GET', '/models');
    const json = await this.getJson('/models', options, ctx);
    const data = Array.isArray(json) ? json : (json as { data?: unknown }).data;
    if (!Array.isArray(data)) throw protocolError('no "data" list of models', ctx);
    const models: ModelInfo[] = [];
    for (const entry of data) {
      const info = this.toModelInfo(entry);
      if (info !== undefined) models.push(info);
    }
    return models.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * A chat answer in one piece. It is streamed underneath, so the idle timeout, not the load
   * timeout, bounds a long answer, exactly as with {@link chatStream}.
   */
  async chat(request: ChatRequest, options?: CallOptions): Promise<ChatResponse> {
    const start = performance.now();
    let content = '';
    let thinking = '';
    let final: ChatChunk | undefined;
    for await (const chunk of this.chatStream(request, options)) {
      content += chunk.content;
      if (chunk.thinking !== undefined) thinking += chunk.thinking;
      if (chunk.done) final = chunk;
    }
    const last = final as ChatChunk;
    const message: ChatResponse['message'] = { role: 'assistant', content };
    if (thinking !== '') message.thinking = thinking;
    if (last.toolCalls !== undefined && last.toolCalls.length > 0) message.toolCalls = last.toolCalls;
    const out: ChatResponse = {
      message,
      model: last.model ?? request.model ?? this.model,
      usage: last.usage ?? {},
      timings: {},
      processingTimeMs: performance.now() - start,
    };
    if (last.doneReason !== undefined) out.doneReason = last.doneReason;
    return out;
  }

  /**
   * Streams a chat answer. The last chunk has `done: true` with the finish reason, the assembled
   * tool calls and the usage; if the stream ends before the answer does, its `doneReason` is
   * `incomplete`. Leaving the `for await` early cancels the HTTP request.
   */
  chatStream(request: ChatRequest, options?: CallOptions): AsyncIterable<ChatChunk> {
    const model = request.model ?? this.model;
    const ctx = this.ctx('POST', '/chat/completions', model);
    const body = JSON.stringify(this.buildBody(request, model));
    return streamCompletion({
      open: () => this.send('POST', '/chat/completions', body, options, ctx),
      ctx,
      model,
      logger: this.logger,
    });
  }

  /** Releases pooled connections at once, so a CLI exits; in-flight calls fail with `aborted`. */
  async close(): Promise<void> {
    await this.transport.close();
  }

  // ---- dialect hooks ----------------------------------------------------------------------

  /** The `/chat/completions` body (always streamed, with usage in the last chunk). */
  protected buildBody(request: ChatRequest, model: string): Record<string, unknown> {
    const body = baseChatBody(request, model);
    body.stream = true;
    body.stream_options = { include_usage: true };
    if (request.think !== undefined) this.applyThink(body, request.think);
    const dropped = applyOptions(body, request.options, this.maxTokens, this.optionDialect());
    if (dropped.length > 0) this.logger.debug({ dropped }, 'options this API does not take were left out');
    return body;
  }

  /** Thinking levels as `reasoning_effort`; a bare true/false leaves the model's default in force. */
  protected applyThink(body: Record<string, unknown>, think: ThinkSetting): void {
    if (typeof think === 'string') body.reasoning_effort = think;
  }

  /** How generation options are spelled. */
  protected optionDialect(): OptionDialect {
    return { maxTokensField: 'max_tokens' };
  }

  /** Path of the availability probe, below the base URL. */
  protected availabilityPath(): string {
    return '/models';
  }

  /** One entry of `GET /models`, or `undefined` to skip it. */
  protected toModelInfo(entry: unknown): ModelInfo | undefined {
    return toModelInfo(this.name, entry as WireModel);
  }

  /** A non-2xx response as a ProviderError. */
  protected httpError(status: number, headers: IncomingHttpHeaders, text: string, ctx: ApiErrorContext): ProviderError {
    return fromHttpStatus(status, headers, text, ctx);
  }

  // ---- internals --------------------------------------------------------------------------

  /** Error context of a request to `endpoint`. */
  protected ctx(method: string, endpoint: string, model?: string): ApiErrorContext {
    const ctx: ApiErrorContext = {
      provider: this.name,
      label: this.serverLabel(),
      baseUrl: this.baseUrl,
      keyEnv: this.identity.keyEnv,
      configSection: this.identity.configSection,
      method,
      endpoint,
      secrets: [this.#apiKey],
    };
    if (model !== undefined) ctx.model = model;
    return ctx;
  }

  /** The server in messages: the service's name at its own host, else (for an API others speak) the base URL. */
  private serverLabel(): string {
    if (this.identity.spokenByOthers !== true) return this.identity.label;
    return new URL(this.baseUrl).host === new URL(this.identity.defaultBaseUrl).host ? this.identity.label : this.baseUrl;
  }

  /** This request's failures in the provider's words. */
  private errors(ctx: ApiErrorContext): CallErrors {
    return {
      failure: (error) => toProviderError(error, ctx),
      status: (status, headers, text) => this.httpError(status, headers, text, ctx),
      // No cause: V8's SyntaxError quotes the start of the body, which is server text.
      unreadable: (detail) => protocolError(detail, ctx),
    };
  }

  /** Sends a request; resolves on a 2xx status and throws a mapped ProviderError otherwise. */
  protected send(method: Method, endpoint: string, body: string | undefined, options: CallOptions | undefined, ctx: ApiErrorContext): Promise<HttpResponse> {
    return this.#endpoint.send(method, endpoint, body, options, this.errors(ctx));
  }

  /** A GET returning JSON; an `{"error":...}` body is a ProviderError even with status 200. */
  protected async getJson(endpoint: string, options: CallOptions | undefined, ctx: ApiErrorContext): Promise<unknown> {
    const parsed = await this.#endpoint.json('GET', endpoint, undefined, options, this.errors(ctx));
    const error = (parsed as { error?: unknown }).error;
    if (error !== undefined && error !== null) throw fromStreamError(parsed, ctx);
    return parsed;
  }
}

