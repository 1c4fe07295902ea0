/**
 * The shape of Omega's configuration after loading: every default applied, every `~`
 * expanded, every URL validated. Keys mirror config.toml (snake_case there, camelCase here).
 * Each provider's part is its spec's options type (see `src/providers/registry.ts`).
 */
import type { ServerConfig } from './server.js';
import type { LogLevel } from '../core/logger.js';
import type { ProviderConfigs, ProviderName } from '../providers/registry.js';

/** `[omega]`. */
export interface OmegaSection {
  name: string;
  /** Absolute path; `~` already expanded. */
  dataDir: string;
  logLevel: LogLevel;
  systemPrompt: string;
}

export type { OllamaConfig } from '../providers/ollama/spec.js';
export type { ApiProviderConfig } from '../providers/hosted.js';
export type { ClaudeCodeConfig } from '../providers/claude-code/spec.js';
export type { ProviderName } from '../providers/registry.js';
export { PROVIDER_NAMES } from '../providers/registry.js';

/** `[provider]` and its sub-tables: one per registered spec, keyed by provider name. */
export type ProvidersSection = {
  default: ProviderName;
  /** Tried in order when the default is unavailable or fails retryably. */
  fallback: ProviderName[];
} & ProviderConfigs;

/** `[memory]`. */
export interface MemoryConfig {
  /** `sqlite` (one file, the default) or `postgres` (a server several instances share). */
  backend: 'sqlite' | 'postgres';
  /** Absolute path; `~` already expanded. */
  dbPath: string;
  /** An upper bound on the remembered messages sent with a new one; the token budget may send fewer. */
  maxContextMessages: number;
  /**
   * Tokens of the context window kept free for the answer when the request sets no
   * `num_predict` (`[memory] answer_reserve`); {@link DEFAULT_ANSWER_RESERVE} when unset.
   */
  answerReserve?: number;
  /** `[memory] url` for PostgreSQL; without it the standard PG* environment variables apply. */
  url?: string;
  /** Connections of this instance's PostgreSQL pool (`[memory] pool_size`). */
  poolSize?: number;
  /** PostgreSQL statement timeout in milliseconds (`[memory] statement_timeout`); 0 turns it off. */
  statementTimeoutMs?: number;
}

/** `[memory] pool_size` when unset. */
export const DEFAULT_MEMORY_POOL_SIZE = 10;
/** `[memory] statement_timeout` when unset, in milliseconds. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5000;

/** Tokens kept for the answer when neither `num_predict` nor `[memory] answer_reserve` says otherwise. */
export const DEFAULT_ANSWER_RESERVE = 1024;

/** The whole configuration. */
export interface OmegaConfig {
  omega: OmegaSection;
  provider: ProvidersSection;
  memory: MemoryConfig;
  /** `[server]`, for `omega serve`; always set by the loader, optional in configs built by hand. */
  server?: ServerConfig;
}

/** A non-fatal finding while loading, such as an unknown key. */
export interface ConfigWarning {
  file?: string;
  key: string;
  line?: number;
  message: string;
}

/** What {@link loadConfig} returns. */
export interface LoadedConfig {
  config: OmegaConfig;
  /** The file that was read, or undefined when running zero-config. */
  file?: string;
  warnings: ConfigWarning[];
}
