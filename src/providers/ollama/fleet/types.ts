/**
 * The shapes of an Ollama fleet (several `ollama serve` hosts behind one Omega): host config,
 * fleet knobs, the snapshot the router decides on, routing decisions, events and the status
 * snapshot the CLI, `omega serve` and `/metrics` read. Kept apart from the implementation so
 * the surfaces and the bench depend on these shapes only.
 */
import type { HostAttempt } from '../../../core/types.js';
import type { OllamaProvider } from '../provider.js';
import type { PullProgress } from '../types.js';

/** One `[[provider.ollama.hosts]]` entry. */
export interface FleetHostConfig {
  /** The host's base URL, normalised without a trailing slash; unique within the fleet. */
  url: string;
  /** Relative share of traffic, > 0; 1 by default. */
  weight: number;
  /**
   * Requests this host runs at once per model (its `OLLAMA_NUM_PARALLEL`). Unset: the fleet's
   * `defaultMaxConcurrent` (1, Ollama's own default since 0.10; no API reports the real value).
   */
  maxConcurrent?: number;
  /** Free-form tags (`gpu`, `laptop`); a request may ask for hosts that carry some. */
  labels: string[];
}

/** The `[provider.ollama.fleet]` knobs, in milliseconds where they are times. */
export interface FleetOptions {
  /** Background discovery (`/api/tags`, `/api/ps`, `/api/version`) per host; 0 turns it off. */
  refreshIntervalMs: number;
  /** Shortest gap between two on-demand refreshes of one host (a requested model was missing). */
  minRefreshIntervalMs: number;
  /** Active health probe (`GET /`) per host; 0 turns it off. */
  probeIntervalMs: number;
  /** Time limit of one probe or discovery call. */
  probeTimeoutMs: number;
  /** Requests that may wait per model when every slot is busy; 0 refuses at once. */
  queueSize: number;
  /** How long a queued request waits before failing with `busy`. */
  queueTimeoutMs: number;
  /** Hosts tried for one request before its failure is final (failover before the first byte). */
  maxAttempts: number;
  /** Consecutive failures (connect errors, timeouts, 5xx) that open a host's circuit. */
  breakerThreshold: number;
  /** How long an open circuit stays open before one trial (probe or request) is let through. */
  breakerCooldownMs: number;
  /** How long a conversation stays pinned to the host that last answered it. */
  stickyTtlMs: number;
  /** Slots per host and model when a host sets no `max_concurrent`. */
  defaultMaxConcurrent: number;
}

/** Defaults of {@link FleetOptions}; `docs/fleet.md` and config.example.toml state the same numbers. */
export const DEFAULT_FLEET_OPTIONS: Readonly<FleetOptions> = Object.freeze({
  refreshIntervalMs: 30_000,
  minRefreshIntervalMs: 2_000,
  probeIntervalMs: 5_000,
  probeTimeoutMs: 2_000,
  queueSize: 64,
  queueTimeoutMs: 30_000,
  maxAttempts: 3,
  breakerThreshold: 3,
  breakerCooldownMs: 10_000,
  stickyTtlMs: 600_000,
  defaultMaxConcurrent: 1,
});

/** A host's circuit breaker: closed (in use), open (skipped), half-open (one trial allowed). */
export type CircuitState = 'closed' | 'open' | 'half_open';

/**
 * What the router knows of one host at the moment of a decision. Model names are normalised
 * (`llama3` → `llama3:latest`, see `modelKey`).
 */
export interface HostView {
  url: string;
  weight: number;
  labels: readonly string[];
  circuit: CircuitState;
  /** For a half-open circuit: its one trial is already running, so no other request may go. */
  trialBusy: boolean;
  /** Installed models, from the last `/api/tags`. */
  models: ReadonlySet<string>;
  /** Loaded models, from the last `/api/ps` (and what this fleet has since run there). */
  loaded: ReadonlySet<string>;
  /** Requests running now, per model. */
  inFlight: ReadonlyMap<string, number>;
  /** Slots per model. */
  slots: number;
}

/** What a caller adds to a routing decision. */
export interface RouteContext {
  /** Keeps a conversation on one host while it is healthy and has a free slot (KV cache stays warm). */
  stickyKey?: string;
  /** Hosts already tried for this request. */
  exclude?: ReadonlySet<string>;
  /** Only hosts that carry every one of these labels. */
  labels?: readonly string[];
}

/** The router's memory between decisions, passed in so {@link route} stays pure. */
export interface RouteState {
  /** Sticky key → host URL and when the pin expires (ms, same clock as {@link now}). */
  sticky: ReadonlyMap<string, { host: string; expiresAt: number }>;
  /** The current time in ms. */
  now: number;
  /** A number in [0, 1) for the weighted tie-break; `Math.random()` in production. */
  random: number;
}

/** Why a host was chosen. */
export type RouteReason = 'sticky' | 'loaded' | 'least_loaded' | 'half_open_trial';

/** A host was chosen. */
export interface RouteChoice {
  host: string;
  reason: RouteReason;
  /** One sentence for the debug log: the choice and what it beat. */
  why: string;
  /** Whether the model is loaded there. */
  loaded: boolean;
}

/** Why no host could take the request now. */
export type NoRoute = 'no_host_has_model' | 'all_unhealthy' | 'all_full';

/** No host was chosen. */
export interface RouteNone {
  none: NoRoute;
  /** One sentence for the debug log. */
  why: string;
}

/** The outcome of {@link route}. */
export type RouteDecision = RouteChoice | RouteNone;

/** One host tried for one request, in order (in the answer's metadata as `hostAttempts`). */
export type FleetAttempt = HostAttempt;

/** Something that happened in the fleet, for logs and Prometheus counters. */
export type FleetEvent =
  | { type: 'route'; model: string; host: string; reason: RouteReason; attempt: number }
  | { type: 'failover'; model: string; from: string; code: string; attempt: number }
  | { type: 'breaker_open'; host: string; reason: string }
  | { type: 'breaker_half_open'; host: string }
  | { type: 'breaker_close'; host: string }
  | { type: 'queued'; model: string; waiting: number }
  | { type: 'queue_timeout'; model: string; waitedMs: number }
  | { type: 'queue_full'; model: string }
  | { type: 'refresh'; host: string; ok: boolean };

/** A loaded model as the status snapshot shows it. */
export interface LoadedModelView {
  model: string;
  contextLength?: number;
  /** ISO 8601, when Ollama will unload it. */
  expiresAt?: string;
}

/** One host as `omega status` and `/metrics` show it. */
export interface HostSnapshot {
  url: string;
  labels: string[];
  weight: number;
  /** Slots per model. */
  maxConcurrent: number;
  /** Answered its last probe or discovery call. */
  up: boolean;
  /** From `/api/version`; undefined until known. */
  version?: string;
  circuit: CircuitState;
  /** Requests running there now, all models. */
  inFlight: number;
  /** Requests waiting in the fleet's queues for a model this host has. */
  queued: number;
  loaded: LoadedModelView[];
  /** Installed models (normalised names). */
  models: string[];
  /** The last failure seen there (probe, discovery or request). */
  lastError?: string;
  /** When discovery last succeeded (ISO 8601). */
  refreshedAt?: string;
}

/** The whole fleet at one moment. */
export interface FleetSnapshot {
  hosts: HostSnapshot[];
  /** Requests waiting, per model. */
  queues: { model: string; waiting: number }[];
}

/** A slot on one host, held until {@link FleetLease.release}. */
export interface FleetLease {
  /** The host's URL. */
  host: string;
  /** That host's provider, for calls the fleet does not wrap. */
  provider: OllamaProvider;
  /** Why the router chose it. */
  reason: RouteReason;
  /**
   * Gives the slot back (idempotent). Pass the failure, if any, so passive health checks see
   * it: connect errors, timeouts and 5xx count against the host; 4xx and aborts do not.
   */
  release(outcome?: { error?: unknown }): void;
}

/** Options of {@link OllamaFleet.acquire}. */
export interface AcquireOptions extends RouteContext {
  /** Gives up waiting in the queue. */
  signal?: AbortSignal;
}

/** One host's outcome of a fleet-wide pull. */
export interface FleetPullResult {
  host: string;
  ok: boolean;
  /** The failure, when `ok` is false. */
  error?: Error;
}

/** Options of a fleet-wide pull. */
export interface FleetPullOptions {
  /** Each host's progress events, as that host sends them. */
  onProgress?: (host: string, progress: PullProgress) => void;
  signal?: AbortSignal;
  insecure?: boolean;
}
