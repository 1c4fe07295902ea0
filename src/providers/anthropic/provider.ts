/**
 * The Anthropic provider: Omega's contract over the Messages API (`POST /v1/messages`, SSE
 * streaming, `GET /v1/models`), on the shared undici transport.
 */
import { performance } from 'node:perf_hooks';
import type {
  CallOptions,
  ChatChunk,
  ChatRequest,
  ChatResponse,
  Context,
  ModelInfo,
  ModelProvider,
  OutgoingMessage,
  Timeouts,
} from '../../core/types.js';
import { completeWithChat } from '../../core/types.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import type { ApiProviderConfig } from '../hosted.js';
import { hostedApiKey, hostedBaseUrl, hostedOptions } from '../hosted.js';
import { HttpTransport, resolveTimeouts } from '../../http/transport.js';
import { ProviderEndpoint } from '../shared/endpoint.js';
import type { CallErrors } from '../shared/endpoint.js';
import type { HttpResponse } from '../../http/transport.js';
import type { ErrorContext } from './errors.js';
import { fromHttpStatus, protocolError, toProviderError } from './errors.js';
import { streamMessages } from './stream.js';
import {
  ANTHROPIC_API_KEY_ENV,
  ANTHROPIC_DEFAULT_BASE_URL,
  ANTHROPIC_DEFAULT_MAX_TOKENS,
  ANTHROPIC_DEFAULT_MODEL,
  ANTHROPIC_DEFAULT_TIMEOUTS,
  ANTHROPIC_VERSION,
} from './types.js';
import type { AnthropicProviderOptions, WireMessageResponse, WireModelPage } from './types.js';
import { PROVIDER, buildRequestBody, readContent, toDoneReason, toModelInfo, toUsage } from './wire.js';

/** Default limit of {@link AnthropicProvider.isAvailable}. */
const AVAILABILITY_TIMEOUT_MS = 3000;
/** Largest page `GET /v1/models` serves. */
const MODELS_PAGE = 1000;
/** A guard against a server that always says `has_more`. */
const MAX_MODEL_PAGES = 50;

type Method = 'GET' | 'POST';

/** Talks to Anthropic's Messages API. Implements the full {@link ModelProvider} contract. */
export class AnthropicProvider implements ModelProvider {
  /** Always `anthropic`. */
  readonly name = 'anthropic' as const;
  /** The API needs a key. */
  readonly requiresApiKey = true as const;
  /** The URL requests go to (without `/v1`), without a trailing slash. */
  readonly baseUrl: string;
  /** Model used when a call names none. */
  readonly model: string;
  /** `max_tokens` of each request. */
  readonly maxTokens: number;
  /** The default phase timeouts of this provider. */
  readonly timeouts: Readonly<Timeouts>;

  // Private fields (#) stay out of util.inspect and JSON.stringify, so the key cannot leak through them.
  readonly #apiKey: string;
  /** Private so the key in its headers is unreachable from outside. */
  readonly #endpoint: ProviderEndpoint;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly logger: Logger;
  private readonly transport: HttpTransport;

  /** Throws a ConfigError when no key is given and `ANTHROPIC_API_KEY` is unset. */
  constructor(opts: AnthropicProviderOptions = {}) {
    const key = hostedApiKey(opts.apiKey, opts.env ?? process.env, {
      label: 'Anthropic',
      keyEnv: ANTHROPIC_API_KEY_ENV,
      configSection: 'provider.anthropic',
      hint: 'Create a key at https://console.anthropic.com/settings/keys.',
    });
    this.#apiKey = key;
    const url = hostedBaseUrl(opts.baseUrl, 'provider.anthropic', ANTHROPIC_DEFAULT_BASE_URL);
    this.origin = url.origin;
    // The SDKs' base URL has no /v1; one given by habit is taken off so paths are not doubled.
    this.basePath = url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.baseUrl = this.origin + this.basePath;
    this.model = opts.model?.trim() || ANTHROPIC_DEFAULT_MODEL;
    const maxTokens = opts.maxTokens;
    this.maxTokens =
      typeof maxTokens === 'number' && Number.isFinite(maxTokens) && maxTokens >= 1
        ? Math.floor(maxTokens)
        : ANTHROPIC_DEFAULT_MAX_TOKENS;
    this.timeouts = resolveTimeouts(ANTHROPIC_DEFAULT_TIMEOUTS, opts.timeouts);
    this.logger = (opts.logger ?? silentLogger).child({ provider: PROVIDER });
    this.transport = new HttpTransport({
      timeouts: this.timeouts,
      logger: this.logger,
      ...(opts.connect === undefined ? {} : { connect: opts.connect }),
    });
    const common = { 'x-api-key': key, 'anthropic-version': ANTHROPIC_VERSION, 'user-agent': 'omega' };
    this.#endpoint = new ProviderEndpoint({
      transport: this.transport,
      origin: this.origin,
      basePath: this.basePath,
      getHeaders: { ...common, accept: 'application/json' },
      jsonHeaders: { ...common, 'content-type': 'application/json' },
      logger: this.logger,
      name: PROVIDER,
    });
  }

  /**
   * A provider from the loaded `[provider.anthropic]` section. The loader already read
   * `ANTHROPIC_API_KEY`, so the environment is not consulted again.
   */
  static fromConfig(config: ApiProviderConfig, logger?: Logger): AnthropicProvider {
    return new AnthropicProvider(hostedOptions(config, logger));
  }

  // ---- contract -------------------------------------------------------------------------

  /** Answers the current message of `context` (system prompt, history, then the user's message). */
  async complete(context: Context, options?: CallOptions): Promise<OutgoingMessage> {
    return completeWithChat(this, context, options);
  }

  /** `GET /v1/models?limit=1` within `timeoutMs` (3 s by default): true on 200. Never throws. */
  async isAvailable(options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<boolean> {
    return this.#endpoint.probe('/v1/models?limit=1', {
      signal: options?.signal,
      timeoutMs: options?.timeoutMs ?? AVAILABILITY_TIMEOUT_MS,
      connectMs: this.timeouts.connectMs,
    });
  }

  /** Every model the key may use, from `GET /v1/models`, following its pages. */
  async listModels(options?: CallOptions): Promise<ModelInfo[]> {
    const out: ModelInfo[] = [];
    let after: string | undefined;
    for (let page = 0; page < MAX_MODEL_PAGES; page++) {
      const query = `?limit=${MODELS_PAGE}${after === undefined ? '' : `&after_id=${encodeURIComponent(after)}`}`;
      const ctx = this.ctx('GET', '/v1/models');
      const res = await this.json<WireModelPage>('GET', `/v1/models${query}`, undefined, options, ctx);
      if (!Array.isArray(res.data)) throw protocolError('"data" is not a list', ctx);
      for (const m of res.data) {
        if (typeof m?.id === 'string' && m.id !== '') out.push(toModelInfo(m));
      }
      const last = res.last_id ?? res.data.at(-1)?.id;
      if (res.has_more !== true || typeof last !== 'string' || last === '' || last === after) break;
      after = last;
    }
    return out;
  }

  /** A chat answer in one piece (`stream: false`): the load timeout covers the whole generation. */
  async chat(request: ChatRequest, options?: CallOptions): Promise<ChatResponse> {
    const start = performance.now();
    const model = request.model ?? this.model;
    const body = buildRequestBody(request, this.defaults(), false);
    const ctx = this.ctx('POST', '/v1/messages', model, false);
    const res = await this.json<WireMessageResponse>('POST', '/v1/messages', JSON.stringify(body), options, ctx);
    if (!Array.isArray(res.content)) throw protocolError('no "content" list', ctx);
    const { text, thinking, toolCalls } = readContent(res);
    const message: ChatResponse['message'] = { role: 'assistant', content: text };
    if (thinking !== '') message.thinking = thinking;
    if (toolCalls.length > 0) message.toolCalls = toolCalls;
    const out: ChatResponse = {
      message,
      model: typeof res.model === 'string' && res.model !== '' ? res.model : model,
      usage: toUsage(res.usage),
      timings: {},
      processingTimeMs: performance.now() - start,
    };
    const reason = toDoneReason(res.stop_reason);
    if (reason !== undefined) out.doneReason = reason;
    return out;
  }

  /**
   * Streams a chat answer over SSE. Text and thinking arrive as deltas, each tool call whole
   * once its input is complete, and the last chunk (`done: true`) carries the stop reason and
   * usage. An `error` event mid-stream throws a {@link ProviderError} with the text so far.
   * Leaving the `for await` early cancels the HTTP request.
   */
  chatStream(request: ChatRequest, options?: CallOptions): AsyncIterable<ChatChunk> {
    const model = request.model ?? this.model;
    const ctx = this.ctx('POST', '/v1/messages', model, true);
    let body: string | undefined;
    let invalid: unknown;
    try {
      body = JSON.stringify(buildRequestBody(request, this.defaults(), true));
    } catch (error) {
      invalid = error;
    }
    return {
      [Symbol.asyncIterator]: () => {
        if (body === undefined) return failing(invalid);
        const payload = body;
        return streamMessages(
          () => this.send('POST', '/v1/messages', payload, options, ctx, 'text/event-stream'),
          model,
          ctx,
          this.logger,
        );
      },
    };
  }

  /** Releases pooled connections at once, so a CLI exits; in-flight calls fail with `aborted`. */
  async close(): Promise<void> {
    await this.transport.close();
  }

  // ---- internals --------------------------------------------------------------------------

  private defaults(): { model: string; maxTokens: number } {
    return { model: this.model, maxTokens: this.maxTokens };
  }

  private ctx(method: string, endpoint: string, model?: string, streamed?: boolean): ErrorContext {
    const ctx: ErrorContext = { baseUrl: this.baseUrl, method, endpoint, secrets: [this.#apiKey] };
    if (model !== undefined) ctx.model = model;
    if (streamed !== undefined) ctx.streamed = streamed;
    return ctx;
  }

  /** This request's failures in Anthropic's words. */
  private errors(ctx: ErrorContext): CallErrors {
    return {
      failure: (error) => toProviderError(error, ctx),
      status: (status, headers, text) => fromHttpStatus(status, headers, text, ctx),
      unreadable: (detail, cause) => protocolError(detail, ctx, cause),
    };
  }

  /** Sends a request; resolves on a 2xx status and throws a mapped ProviderError otherwise. */
  private send(
    method: Method,
    path: string,
    body: string | undefined,
    options: CallOptions | undefined,
    ctx: ErrorContext,
    accept?: string,
  ): Promise<HttpResponse> {
    return this.#endpoint.send(method, path, body, options, this.errors(ctx), accept);
  }

  /** A non-streamed JSON call. */
  private async json<T>(method: Method, path: string, body: string | undefined, options: CallOptions | undefined, ctx: ErrorContext): Promise<T> {
    return (await this.#endpoint.json(method, path, body, options, this.errors(ctx))) as T;
  }
}

/** An iterator whose first `next()` rejects with `error` (a request refused before sending). */
function failing(error: unknown): AsyncIterator<ChatChunk> {
  return {
    next: () => Promise.reject(error),
    return: () => Promise.resolve({ value: undefined, done: true }),
  };
}

