/**
 * `OllamaFleet`: several Ollama hosts behind one {@link ModelProvider}. Each request goes to the
 * best host for its model (see `router.ts`), waits in a bounded per-model queue when every slot
 * is busy, and fails over to the next host when a host fails before the first byte; after the
 * first byte the caller gets `connection_lost` with the partial text, never a silent restart.
 * One {@link OllamaProvider} per host does the wire work.
 */
import { performance } from 'node:perf_hooks';
import { ProviderError, isProviderError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { silentLogger } from '../../../core/logger.js';
import type {
  CallOptions,
  ChatChunk,
  ChatRequest,
  ChatResponse,
  Context,
  ContextWindow,
  ModelInfo,
  ModelProvider,
  OutgoingMessage,
} from '../../../core/types.js';
import { completeWithChat } from '../../../core/types.js';
import type { OllamaProvider } from '../provider.js';
import type { OllamaProviderOptions } from '../types.js';
import { DEFAULT_OLLAMA_MODEL } from '../types.js';
import { FleetHost } from './discovery.js';
import { conversationKey } from './conversation-key.js';
import { countsAgainstHost } from './health.js';
import { FleetQueue } from './queue.js';
import type { QueueRefusal } from './queue.js';
import { modelKey, route } from './router.js';
import type {
  AcquireOptions,
  CircuitState,
  FleetAttempt,
  FleetEvent,
  FleetHostConfig,
  FleetLease,
  FleetOptions,
  FleetPullOptions,
  FleetPullResult,
  FleetSnapshot,
  RouteChoice,
  RouteContext,
  RouteDecision,
  RouteNone,
} from './types.js';
import { DEFAULT_FLEET_OPTIONS } from './types.js';

const PROVIDER = 'ollama';

/** Construction options of {@link OllamaFleet}. */
export interface OllamaFleetOptions {
  /** At least one host; URLs must be unique. */
  hosts: readonly FleetHostConfig[];
  /** Fleet knobs; missing ones from {@link DEFAULT_FLEET_OPTIONS}. */
  fleet?: Partial<FleetOptions>;
  /** Options every host's provider shares (model, keep-alive, timeouts, generation options, context). */
  provider?: Omit<OllamaProviderOptions, 'baseUrl' | 'baseUrlSource' | 'env' | 'logger'>;
  logger?: Logger;
  /** Called for every {@link FleetEvent}; more listeners with {@link OllamaFleet.onEvent}. */
  onEvent?: (event: FleetEvent) => void;
  /** Clock in ms (tests); `Date.now` by default. */
  now?: () => number;
  /** Random numbers in [0, 1) for the weighted tie-break (tests); `Math.random` by default. */
  random?: () => number;
}

/** A lease taken by the fleet's own calls, with the attempt number for events. */
interface Grant extends FleetLease {
  readonly started: number;
}

/** Whether the request may go to another host after `error`, before anything reached the caller. */
function canFailOver(error: unknown, signal: AbortSignal | undefined): boolean {
  if (signal?.aborted === true || !isProviderError(error)) return false;
  return countsAgainstHost(error) || error.code === 'model_not_found' || error.code === 'busy';
}

function codeOf(error: unknown): string {
  if (isProviderError(error)) return error.code;
  if (error instanceof Error && error.name === 'AbortError') return 'aborted';
  return 'error';
}

/** A model name as a person wrote it: the implied `:latest` left off. */
function shown(model: string): string {
  return model.endsWith(':latest') ? model.slice(0, -':latest'.length) : model;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The error the fleet gives up with, carrying every host it tried so the caller can audit each
 * one; `host` is the host this failure came from, if it came from one. Only a ProviderError can
 * carry them; anything else passes through as it is.
 */
function withHosts(error: unknown, attempts: readonly FleetAttempt[], host: string | undefined): unknown {
  if (!isProviderError(error) || attempts.length === 0) return error;
  error.hostAttempts = [...attempts];
  if (host !== undefined) error.host = host;
  return error;
}

/** Several Ollama hosts as one provider: see the module comment and `docs/fleet.md`. */
export class OllamaFleet implements ModelProvider {
  /** `ollama`: the fleet stands in for the Ollama provider. */
  readonly name = PROVIDER;
  /** Ollama needs no key. */
  readonly requiresApiKey = false as const;
  /** Model used when a call names none. */
  readonly model: string;
  /** The fleet's knobs in force. */
  readonly options: Readonly<FleetOptions>;

  private readonly hosts: FleetHost[];
  private readonly byUrl = new Map<string, FleetHost>();
  private readonly queue: FleetQueue<RouteContext, FleetLease>;
  private readonly sticky = new Map<string, { host: string; expiresAt: number }>();
  private readonly listeners = new Set<(event: FleetEvent) => void>();
  /** Smoothed time a request holds a slot, per model, for `retryAfterMs`. */
  private readonly holdMs = new Map<string, number>();
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly random: () => number;
  private timers: NodeJS.Timeout[] = [];
  private initial: Promise<void> | undefined;
  private closed = false;

  constructor(opts: OllamaFleetOptions) {
    if (opts.hosts.length === 0) throw new TypeError('OllamaFleet needs at least one host.');
    this.options = Object.freeze({ ...DEFAULT_FLEET_OPTIONS, ...opts.fleet });
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.logger = (opts.logger ?? silentLogger).child({ provider: PROVIDER, component: 'fleet' });
    const model = opts.provider?.model;
    this.model = model !== undefined && model.trim() !== '' ? model.trim() : DEFAULT_OLLAMA_MODEL;
    if (opts.onEvent !== undefined) this.listeners.add(opts.onEvent);
    this.hosts = opts.hosts.map((config) => {
      const host: FleetHost = new FleetHost({
        config,
        slots: config.maxConcurrent ?? this.options.defaultMaxConcurrent,
        provider: opts.provider ?? {},
        logger: this.logger.child({ host: config.url }),
        breaker: { threshold: this.options.breakerThreshold, cooldownMs: this.options.breakerCooldownMs },
        now: this.now,
        probeTimeoutMs: this.options.probeTimeoutMs,
        onBreaker: (state, reason) => this.onBreaker(host, state, reason),
      });
      if (this.byUrl.has(host.url)) throw new TypeError(`OllamaFleet got the host ${host.url} twice; list each host once.`);
      this.byUrl.set(host.url, host);
      return host;
    });
    this.queue = new FleetQueue({ size: this.options.queueSize, timeoutMs: this.options.queueTimeoutMs, now: this.now });
  }

  /** The hosts' URLs, in configuration order. */
  get hostUrls(): string[] {
    return this.hosts.map((h) => h.url);
  }

  /** The provider that talks to `url`, for calls the fleet does not wrap (`show`, `embed`...). */
  providerFor(url: string): OllamaProvider | undefined {
    return this.byUrl.get(url)?.provider;
  }

  /** Adds an event listener; returns the function that removes it. */
  onEvent(listener: (event: FleetEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- contract -------------------------------------------------------------------------

  /** Answers the current message of `context` through {@link chat}. */
  async complete(context: Context, options?: CallOptions): Promise<OutgoingMessage> {
    return completeWithChat(this, context, options);
  }

  /** True when any host answers `GET /`. Never throws. */
  async isAvailable(options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<boolean> {
    // The first host that answers settles it; a slow dead host does not hold the answer up.
    return new Promise((resolve) => {
      let left = this.hosts.length;
      for (const h of this.hosts) {
        void h.provider.heartbeat(options).then((ok) => {
          if (ok) resolve(true);
          else if (--left === 0) resolve(false);
        });
      }
    });
  }

  /**
   * Every model of every host that answers, once per name; `hosts` says which hosts have it and
   * `loadedOn` where it is loaded. Fails only when no host answers.
   */
  async listModels(options?: CallOptions): Promise<ModelInfo[]> {
    this.start();
    const results = await Promise.allSettled(this.hosts.map((h) => h.provider.listModels(options)));
    const merged = new Map<string, ModelInfo>();
    let firstError: unknown;
    results.forEach((result, i) => {
      const host = this.hosts[i] as FleetHost;
      if (result.status === 'rejected') {
        firstError ??= result.reason;
        return;
      }
      for (const info of result.value) {
        const key = modelKey(info.name);
        host.models.add(key);
        const entry = merged.get(key) ?? { ...info, hosts: [] };
        entry.hosts?.push(host.url);
        merged.set(key, entry);
      }
    });
    if (merged.size === 0 && firstError !== undefined && results.every((r) => r.status === 'rejected')) throw firstError;
    for (const [key, info] of merged) {
      const loadedOn = this.hosts.filter((h) => h.loaded.has(key)).map((h) => h.url);
      if (loadedOn.length > 0) info.loadedOn = loadedOn;
    }
    return [...merged.values()];
  }

  /** A chat answer in one piece from the best host; fails over before any answer arrived. */
  async chat(request: ChatRequest, options?: CallOptions): Promise<ChatResponse> {
    const model = request.model ?? this.model;
    options = this.withStickyKey(model, request, options);
    const attempts: FleetAttempt[] = [];
    const exclude = new Set<string>();
    let last: unknown;
    for (let n = 1; n <= this.options.maxAttempts; n++) {
      const lease = await this.leaseFor(model, options, exclude, n, last).catch((e: unknown) => {
        throw withHosts(e, attempts, e === last ? attempts[attempts.length - 1]?.host : undefined);
      });
      let error: unknown;
      try {
        const res = await lease.provider.chat({ ...request, model }, options);
        attempts.push({ host: lease.host, outcome: 'ok', ms: this.since(lease.started) });
        res.host = lease.host;
        res.hostAttempts = attempts;
        return res;
      } catch (e) {
        error = e;
        attempts.push(this.failedAttempt(lease, e));
        if (!canFailOver(e, options?.signal) || n === this.options.maxAttempts) throw withHosts(e, attempts, lease.host);
        this.failedOver(model, lease, e, n, exclude);
        last = e;
      } finally {
        lease.release(error === undefined ? undefined : { error });
      }
    }
    throw withHosts(last, attempts, attempts[attempts.length - 1]?.host);
  }

  /**
   * Streams a chat answer from the best host. A host that fails before the first chunk is
   * replaced by the next best; a failure after it ends the stream with `connection_lost`
   * carrying the text so far. The final chunk names the host (`host`, `hostAttempts`).
   */
  chatStream(request: ChatRequest, options?: CallOptions): AsyncIterable<ChatChunk> {
    return this.stream(request, options);
  }

  /** The context window the host a request for `model` would go to gives it. */
  async contextWindowFor(model: string = this.model, options?: CallOptions): Promise<ContextWindow | undefined> {
    this.start();
    await this.initial;
    const key = modelKey(model);
    const d = this.decide(key, {});
    const host = 'host' in d ? this.byUrl.get(d.host) : (this.hosts.find((h) => h.models.has(key)) ?? this.hosts[0]);
    return host?.provider.contextWindowFor(model, options);
  }

  /** Stops timers and queued requests (they fail with `aborted`) and closes every host's connections. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.queue.clear(new ProviderError({ provider: PROVIDER, code: 'aborted', message: 'The Ollama fleet was closed while the request waited for a host.' }));
    await Promise.all(this.hosts.map((h) => h.provider.close()));
  }

  // ---- for the surfaces ---------------------------------------------------------------------

  /** Every host and queue as they are now, for `omega status` and `/metrics`. */
  snapshot(): FleetSnapshot {
    const queues = this.queue.all();
    return {
      hosts: this.hosts.map((h) => h.snapshot(queues.filter((q) => h.models.has(q.model)).reduce((n, q) => n + q.waiting, 0))),
      queues,
    };
  }

  /** Re-reads every host's models, loaded models and version now; never throws (failures show in {@link snapshot}). */
  async refresh(): Promise<void> {
    this.start();
    await this.initial;
    await this.refreshAll(0);
  }

  /** The host a request for `model` would go to now, without taking a slot; undefined when none can take it. */
  hostForModel(model: string, ctx: RouteContext = {}): string | undefined {
    const d = this.decide(modelKey(model), ctx);
    return 'host' in d ? d.host : undefined;
  }

  /**
   * A slot for `model` on the best host, waiting in the model's queue when all are busy; for
   * callers that talk to the host themselves (`omega serve`'s relay). Call `release()` exactly
   * once when done, with the failure if there was one.
   */
  async acquire(model: string, ctx: AcquireOptions = {}): Promise<FleetLease> {
    return this.take(modelKey(model), ctx, 1);
  }

  /** Pulls `model` on every host at once; one host's failure does not stop the others. */
  async pull(model: string, options: FleetPullOptions = {}): Promise<FleetPullResult[]> {
    return Promise.all(
      this.hosts.map(async (h): Promise<FleetPullResult> => {
        try {
          const pullOptions = { ...(options.signal === undefined ? {} : { signal: options.signal }), ...(options.insecure === true ? { insecure: true } : {}) };
          for await (const progress of h.provider.pull(model, pullOptions)) options.onProgress?.(h.url, progress);
          h.models.add(modelKey(model));
          return { host: h.url, ok: true };
        } catch (error) {
          return { host: h.url, ok: false, error: error instanceof Error ? error : new Error(String(error)) };
        }
      }),
    );
  }

  // ---- internals ------------------------------------------------------------------------

  /** Starts discovery and probes on first use; their timers never keep the process alive. */
  private start(): void {
    if (this.initial !== undefined || this.closed) return;
    this.initial = this.refreshAll(0);
    const o = this.options;
    if (o.refreshIntervalMs > 0) this.timers.push(setInterval(() => void this.refreshAll(0), o.refreshIntervalMs));
    if (o.probeIntervalMs > 0) this.timers.push(setInterval(() => void this.probeAll(), o.probeIntervalMs));
    for (const t of this.timers) t.unref();
  }

  private emit(event: FleetEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.warn({ err: messageOf(error), event: event.type }, 'a fleet event listener threw');
      }
    }
  }

  private onBreaker(host: FleetHost, state: CircuitState, reason?: string): void {
    if (state === 'open') {
      this.logger.warn({ host: host.url, reason }, 'circuit opened: host taken out of rotation');
      this.emit({ type: 'breaker_open', host: host.url, reason: reason ?? 'failures' });
    } else if (state === 'half_open') {
      this.emit({ type: 'breaker_half_open', host: host.url });
    } else {
      this.logger.info({ host: host.url }, 'circuit closed: host back in rotation');
      this.emit({ type: 'breaker_close', host: host.url });
      // Waiters may fit on the host that came back; not from inside the breaker's own call.
      queueMicrotask(() => this.pumpAll());
    }
  }

  /** Discovery of every host; `minIntervalMs` skips hosts refreshed more recently (on-demand refresh). */
  private async refreshAll(minIntervalMs: number): Promise<void> {
    await Promise.all(this.hosts.map((h) => this.refreshHost(h, minIntervalMs)));
    this.pumpAll();
  }

  private async refreshHost(h: FleetHost, minIntervalMs: number): Promise<void> {
    try {
      await h.refresh(minIntervalMs);
      this.emit({ type: 'refresh', host: h.url, ok: true });
    } catch (error) {
      this.emit({ type: 'refresh', host: h.url, ok: false });
      this.logger.debug({ host: h.url, err: messageOf(error) }, 'discovery failed');
      if (countsAgainstHost(error) && h.breaker.current() === 'closed') h.breaker.failure(messageOf(error));
    }
  }

  /** Active health checks: `GET /` on every host whose circuit is not cooling down. */
  private async probeAll(): Promise<void> {
    await Promise.all(this.hosts.map((h) => this.probe(h)));
  }

  private async probe(h: FleetHost): Promise<void> {
    const state = h.breaker.current();
    if (state === 'open' || this.closed) return;
    if (state === 'half_open' && !h.breaker.startTrial()) return;
    const wasUp = h.up;
    const ok = await h.provider.heartbeat({ timeoutMs: this.options.probeTimeoutMs });
    if (this.closed) return;
    if (ok) {
      h.up = true;
      // A probe proves the host is back, not that its requests succeed: only a trial closes it.
      if (state === 'half_open') h.breaker.success();
      if (!wasUp || !h.discovered || state === 'half_open') await this.refreshHost(h, 0);
      this.pumpAll();
    } else {
      h.up = false;
      h.lastError = `${h.url} did not answer its health probe (GET /)`;
      h.breaker.failure(h.lastError);
    }
  }

  private decide(model: string, ctx: RouteContext): RouteDecision {
    const now = this.now();
    return route(model, this.hosts.map((h) => h.view()), ctx, { sticky: this.sticky, now, random: this.random() });
  }

  /** A slot for `model` (normalised): routes, refreshes once when no host has it, queues when all are full. */
  private async take(model: string, ctx: AcquireOptions, attempt: number): Promise<Grant> {
    if (this.closed) throw new ProviderError({ provider: PROVIDER, code: 'aborted', message: 'The Ollama fleet is closed.' });
    this.start();
    await this.initial;
    let d = this.decide(model, ctx);
    if ('none' in d && d.none === 'no_host_has_model') {
      // The model may have been pulled since the last discovery.
      await this.refreshAll(this.options.minRefreshIntervalMs);
      d = this.decide(model, ctx);
    }
    if ('host' in d && this.queue.waiting(model) === 0) return this.grant(model, d, ctx, attempt);
    if ('none' in d && d.none !== 'all_full') throw this.noRoute(model, d);
    const waiting = this.queue.waiting(model) + 1;
    this.emit({ type: 'queued', model, waiting });
    this.logger.debug({ model, waiting }, 'every slot for the model is busy; the request waits in its queue');
    const routeCtx: RouteContext = { ...ctx };
    delete (routeCtx as AcquireOptions).signal;
    const lease = this.queue.wait(model, routeCtx, ctx.signal, (r) => this.refusal(model, r));
    this.pump(model);
    return (await lease) as Grant;
  }

  /** Hands freed slots to waiters of `model`, oldest first. */
  private pump(model: string): void {
    for (const waiter of this.queue.peek(model)) {
      const d = this.decide(model, waiter.ctx);
      if (!('host' in d)) continue;
      this.queue.take(waiter);
      waiter.resolve(this.grant(model, d, waiter.ctx, 1));
    }
  }

  private pumpAll(): void {
    for (const model of this.queue.models()) this.pump(model);
  }

  private grant(model: string, d: RouteChoice, ctx: RouteContext, attempt: number): Grant {
    const host = this.byUrl.get(d.host) as FleetHost;
    const trial = d.reason === 'half_open_trial' && host.breaker.startTrial();
    host.take(model);
    if (ctx.stickyKey !== undefined) this.pin(ctx.stickyKey, host.url);
    this.emit({ type: 'route', model, host: host.url, reason: d.reason, attempt });
    this.logger.debug({ model, host: host.url, reason: d.reason, attempt }, d.why);
    const started = performance.now();
    let released = false;
    return {
      host: host.url,
      provider: host.provider,
      reason: d.reason,
      started,
      release: (outcome) => {
        if (released) return;
        released = true;
        host.give(model);
        this.learnHold(model, performance.now() - started);
        this.settle(host, model, outcome?.error, trial);
        this.pump(model);
      },
    };
  }

  /** Passive health: what a finished request says about its host. */
  private settle(host: FleetHost, model: string, error: unknown, trial: boolean): void {
    if (error === undefined) {
      host.up = true;
      host.markLoaded(model);
      host.breaker.success();
      return;
    }
    if (countsAgainstHost(error)) {
      host.lastError = messageOf(error);
      if (isProviderError(error, 'unavailable')) host.up = false;
      host.breaker.failure(host.lastError);
      return;
    }
    if (!isProviderError(error) || error.code === 'aborted') {
      // The caller gave up: no verdict on the host.
      if (trial) host.breaker.abandonTrial();
      return;
    }
    // The host answered, if with a refusal: it is alive.
    if (error.code === 'model_not_found') host.markMissing(model);
    host.breaker.success();
  }

  private pin(key: string, url: string): void {
    const now = this.now();
    if (this.sticky.size >= 10_000) {
      for (const [k, v] of this.sticky) if (v.expiresAt <= now) this.sticky.delete(k);
      // Still full of live pins: drop the oldest (Map keeps insertion order).
      if (this.sticky.size >= 10_000) this.sticky.delete(this.sticky.keys().next().value as string);
    }
    this.sticky.delete(key);
    this.sticky.set(key, { host: url, expiresAt: now + this.options.stickyTtlMs });
  }

  private learnHold(model: string, ms: number): void {
    const old = this.holdMs.get(model);
    this.holdMs.set(model, old === undefined ? ms : old * 0.8 + ms * 0.2);
  }

  /**
   * The caller's options with a sticky key derived from the conversation's opening when the
   * caller named none, so clients that resend the whole conversation each turn stay on one host.
   */
  private withStickyKey(model: string, request: ChatRequest, options: CallOptions | undefined): CallOptions | undefined {
    if (options?.stickyKey !== undefined) return options;
    const stickyKey = conversationKey(model, request.messages);
    return stickyKey === undefined ? options : { ...options, stickyKey };
  }

  /** A lease for one attempt of the fleet's own calls; after a failed attempt, no other host left means the last failure stands. */
  private async leaseFor(model: string, options: CallOptions | undefined, exclude: Set<string>, attempt: number, last: unknown): Promise<Grant> {
    const ctx: AcquireOptions = { exclude };
    if (options?.stickyKey !== undefined) ctx.stickyKey = options.stickyKey;
    if (options?.signal !== undefined) ctx.signal = options.signal;
    try {
      return await this.take(modelKey(model), ctx, attempt);
    } catch (error) {
      if (last !== undefined && isProviderError(error) && (error.code === 'unavailable' || error.code === 'model_not_found')) throw last;
      throw error;
    }
  }

  private failedAttempt(lease: Grant, error: unknown): FleetAttempt {
    return { host: lease.host, outcome: codeOf(error), ms: this.since(lease.started), error: messageOf(error) };
  }

  private failedOver(model: string, lease: Grant, error: unknown, attempt: number, exclude: Set<string>): void {
    exclude.add(lease.host);
    this.emit({ type: 'failover', model: modelKey(model), from: lease.host, code: codeOf(error), attempt });
    this.logger.warn({ model, host: lease.host, code: codeOf(error), attempt }, 'host failed before the first byte; trying the next best host');
  }

  private since(started: number): number {
    return Math.round(performance.now() - started);
  }

  private async *stream(request: ChatRequest, options: CallOptions | undefined): AsyncGenerator<ChatChunk, void, undefined> {
    const model = request.model ?? this.model;
    options = this.withStickyKey(model, request, options);
    const attempts: FleetAttempt[] = [];
    const exclude = new Set<string>();
    let last: unknown;
    for (let n = 1; n <= this.options.maxAttempts; n++) {
      const lease = await this.leaseFor(model, options, exclude, n, last).catch((e: unknown) => {
        throw withHosts(e, attempts, e === last ? attempts[attempts.length - 1]?.host : undefined);
      });
      let text = '';
      let received = false;
      let error: unknown;
      let finished = false;
      try {
        for await (const chunk of lease.provider.chatStream({ ...request, model }, options)) {
          received = true;
          text += chunk.content;
          if (chunk.done) {
            attempts.push({ host: lease.host, outcome: 'ok', ms: this.since(lease.started) });
            chunk.host = lease.host;
            chunk.hostAttempts = attempts;
          }
          yield chunk;
        }
        finished = true;
        return;
      } catch (e) {
        error = e;
        attempts.push(this.failedAttempt(lease, e));
        if (received) throw withHosts(this.lost(model, lease.host, e, text, options?.signal), attempts, lease.host);
        if (!canFailOver(e, options?.signal) || n === this.options.maxAttempts) throw withHosts(e, attempts, lease.host);
        this.failedOver(model, lease, e, n, exclude);
        last = e;
      } finally {
        if (error !== undefined) lease.release({ error });
        else if (finished) lease.release();
        else lease.release({ error: new ProviderError({ provider: PROVIDER, code: 'aborted', message: 'The caller stopped reading the answer.' }) });
      }
    }
    throw withHosts(last, attempts, attempts[attempts.length - 1]?.host);
  }

  /** A failure after the first chunk: `connection_lost` with the text so far (a cancel stays `aborted`). */
  private lost(model: string, host: string, error: unknown, text: string, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted === true || isProviderError(error, 'aborted')) return error;
    const why = messageOf(error).replace(/[.;]\s*$/, '');
    return new ProviderError({
      provider: PROVIDER,
      code: 'connection_lost',
      message: `The Ollama host ${host} failed after part of the answer was sent (${why}); the ${text.length} characters received are kept, and asking again starts a new answer.`,
      partialText: text,
      cause: error,
      model,
      baseUrl: host,
      endpoint: 'POST /api/chat',
    });
  }

  private noRoute(key: string, d: RouteNone): ProviderError {
    this.logger.debug({ model: key, none: d.none }, d.why);
    const model = shown(key);
    if (d.none === 'no_host_has_model') {
      return new ProviderError({
        provider: PROVIDER,
        code: 'model_not_found',
        model,
        message: `No Ollama host has the model '${model}' (${this.hostUrls.join(', ')}); pull it on a host with \`ollama pull ${model}\`, or on every host with \`omega pull ${model} --all-hosts\`.`,
      });
    }
    const having = this.hosts.filter((h) => h.models.has(key));
    const states = having.map((h) => `${h.url} ${h.breaker.current()}${h.lastError === undefined ? '' : `: ${h.lastError}`}`).join('; ');
    return new ProviderError({
      provider: PROVIDER,
      code: 'unavailable',
      model,
      message: `Every Ollama host that has '${model}' is failing (${states}); start one of them again: a host rejoins by itself once it answers its health probe.`,
    });
  }

  private refusal(key: string, r: QueueRefusal): ProviderError {
    const model = shown(key);
    if (r.reason === 'aborted') {
      return new ProviderError({ provider: PROVIDER, code: 'aborted', model, message: 'The request was cancelled while it waited for a free Ollama host.' });
    }
    const slots = this.hosts.filter((h) => h.models.has(key)).reduce((n, h) => n + h.slots, 0);
    const hold = this.holdMs.get(key) ?? 1000;
    const retryAfterMs = Math.max(100, Math.round(hold * Math.max(1, (this.queue.waiting(key) + 1) / Math.max(1, slots))));
    if (r.reason === 'full') {
      this.emit({ type: 'queue_full', model: key });
      return new ProviderError({
        provider: PROVIDER,
        code: 'busy',
        model,
        retryAfterMs,
        setting: { option: 'fleet.queueSize', configKey: 'provider.ollama.fleet.queue_size' },
        message: `Every Ollama host with '${model}' is busy (${slots} slot(s)) and ${r.waiting} request(s) already wait, the most fleet.queueSize allows; retry in about ${Math.ceil(retryAfterMs / 1000)} s, or raise fleet.queueSize or a host's maxConcurrent.`,
      });
    }
    this.emit({ type: 'queue_timeout', model: key, waitedMs: r.waitedMs });
    return new ProviderError({
      provider: PROVIDER,
      code: 'busy',
      model,
      retryAfterMs,
      setting: { option: 'fleet.queueTimeoutMs', configKey: 'provider.ollama.fleet.queue_timeout' },
      message: `Every Ollama host with '${model}' stayed busy (${slots} slot(s)) for the ${Math.round(r.waitedMs)} ms the request waited (fleet.queueTimeoutMs); retry in about ${Math.ceil(retryAfterMs / 1000)} s, or raise fleet.queueTimeoutMs or a host's maxConcurrent.`,
    });
  }
}
