/**
 * One host of the fleet and what the fleet knows of it: its provider, its installed and loaded
 * models (`/api/tags`, `/api/ps`), its version, its circuit breaker and the requests running
 * there. Discovery has a thundering-herd guard: one refresh in flight per host (concurrent
 * callers await the same one) and a minimum gap between on-demand refreshes.
 */
import type { Logger } from '../../../core/logger.js';
import { OllamaProvider } from '../provider.js';
import type { OllamaProviderOptions } from '../types.js';
import { CircuitBreaker } from './health.js';
import { modelKey } from './router.js';
import type { CircuitState, FleetHostConfig, HostSnapshot, HostView, LoadedModelView } from './types.js';

/** What a {@link FleetHost} needs from the fleet. */
export interface FleetHostOptions {
  config: FleetHostConfig;
  slots: number;
  provider: Omit<OllamaProviderOptions, 'baseUrl'>;
  logger: Logger;
  breaker: { threshold: number; cooldownMs: number };
  now: () => number;
  probeTimeoutMs: number;
  onBreaker: (state: CircuitState, reason?: string) => void;
}

/** One host: see the module comment. */
export class FleetHost {
  readonly url: string;
  readonly weight: number;
  readonly labels: readonly string[];
  readonly slots: number;
  readonly provider: OllamaProvider;
  readonly breaker: CircuitBreaker;
  /** Installed models, normalised. */
  readonly models = new Set<string>();
  /** Loaded models, normalised, with what `/api/ps` said. */
  readonly loaded = new Map<string, LoadedModelView>();
  /** The keys of {@link loaded}, kept as a set so a routing view allocates nothing. */
  private readonly loadedNames = new Set<string>();
  /** Requests running, per model. */
  readonly inFlight = new Map<string, number>();
  version: string | undefined;
  /** Answered its last probe or discovery call. */
  up = false;
  lastError: string | undefined;
  refreshedAt: number | undefined;
  /** Discovery has succeeded at least once. */
  discovered = false;

  private refreshing: Promise<void> | undefined;
  private lastRefreshStart = -Infinity;
  private readonly o: FleetHostOptions;

  constructor(o: FleetHostOptions) {
    this.o = o;
    this.weight = o.config.weight;
    this.labels = [...o.config.labels];
    this.slots = o.slots;
    this.provider = new OllamaProvider({ ...o.provider, baseUrl: o.config.url, baseUrlSource: 'config', logger: o.logger, env: {} });
    // The provider's form (wildcard binds mapped to loopback), so metadata and errors agree.
    this.url = this.provider.baseUrl;
    this.breaker = new CircuitBreaker({ threshold: o.breaker.threshold, cooldownMs: o.breaker.cooldownMs, now: o.now, onChange: o.onBreaker });
  }

  /** Requests running here, all models. */
  get totalInFlight(): number {
    let n = 0;
    for (const v of this.inFlight.values()) n += v;
    return n;
  }

  /**
   * Re-reads `/api/tags`, `/api/ps` and `/api/version`. A refresh already running is shared;
   * with `minIntervalMs`, a refresh started less than that long ago is not repeated.
   */
  refresh(minIntervalMs = 0): Promise<void> {
    if (this.refreshing !== undefined) return this.refreshing;
    if (this.o.now() - this.lastRefreshStart < minIntervalMs) return Promise.resolve();
    this.lastRefreshStart = this.o.now();
    const run = this.discover().finally(() => {
      this.refreshing = undefined;
    });
    this.refreshing = run;
    return run;
  }

  /** Whether a discovery call is running. */
  get refreshInFlight(): boolean {
    return this.refreshing !== undefined;
  }

  private async discover(): Promise<void> {
    const signal = AbortSignal.timeout(this.o.probeTimeoutMs);
    const opts = { signal, timeouts: { loadMs: this.o.probeTimeoutMs } };
    try {
      const [tags, ps, version] = await Promise.all([
        this.provider.digests(opts),
        this.provider.ps(opts),
        this.provider.version(opts).catch(() => undefined),
      ]);
      this.models.clear();
      for (const name of tags.keys()) this.models.add(modelKey(name));
      this.loaded.clear();
      this.loadedNames.clear();
      for (const m of ps) {
        const key = modelKey(m.name !== '' ? m.name : m.model);
        const view: LoadedModelView = { model: key };
        if (m.contextLength !== undefined) view.contextLength = m.contextLength;
        if (m.expiresAt !== '') view.expiresAt = m.expiresAt;
        this.loaded.set(key, view);
        this.loadedNames.add(key);
      }
      if (version !== undefined) this.version = version;
      this.up = true;
      this.discovered = true;
      this.refreshedAt = this.o.now();
    } catch (error) {
      this.up = false;
      this.lastError = (error as Error).message;
      throw error;
    }
  }

  /** The router's view of this host now. */
  view(): HostView {
    return {
      url: this.url,
      weight: this.weight,
      labels: this.labels,
      circuit: this.breaker.current(),
      trialBusy: this.breaker.trialBusy,
      models: this.models,
      loaded: this.loadedNames,
      inFlight: this.inFlight,
      slots: this.slots,
    };
  }

  /** Notes that `model` is loaded here now (a request just ran it), until the next `/api/ps` says otherwise. */
  markLoaded(model: string): void {
    if (!this.loaded.has(model)) this.loaded.set(model, { model });
    this.loadedNames.add(model);
  }

  /** Notes that `model` is not installed here (the host said so). */
  markMissing(model: string): void {
    this.models.delete(model);
    this.loaded.delete(model);
    this.loadedNames.delete(model);
  }

  /** Takes a slot for `model`. */
  take(model: string): void {
    this.inFlight.set(model, (this.inFlight.get(model) ?? 0) + 1);
  }

  /** Gives a slot for `model` back. */
  give(model: string): void {
    const n = (this.inFlight.get(model) ?? 0) - 1;
    if (n > 0) this.inFlight.set(model, n);
    else this.inFlight.delete(model);
  }

  /** This host for `omega status`. */
  snapshot(queued: number): HostSnapshot {
    const out: HostSnapshot = {
      url: this.url,
      labels: [...this.labels],
      weight: this.weight,
      maxConcurrent: this.slots,
      up: this.up,
      circuit: this.breaker.current(),
      inFlight: this.totalInFlight,
      queued,
      loaded: [...this.loaded.values()].map((v) => ({ ...v })),
      models: [...this.models].sort(),
    };
    if (this.version !== undefined) out.version = this.version;
    if (this.lastError !== undefined) out.lastError = this.lastError;
    if (this.refreshedAt !== undefined) out.refreshedAt = new Date(this.refreshedAt).toISOString();
    return out;
  }
}
