/**
 * The shape of Omega's configuration after loading: every default applied, every `~`
 * expanded, every URL validated. Keys mirror config.toml (snake_case there, camelCase here).
 */
import type { GenerationOptions, Timeouts } from '../core/types.js';
import type { LogLevel } from '../core/logger.js';

/** `[omega]`. */
export interface OmegaSection {
  name: string;
  /** Absolute path; `~` already expanded. */
  dataDir: string;
  logLevel: LogLevel;
  systemPrompt: string;
}

/** `[provider.ollama]`. */
export interface OllamaConfig {
  enabled: boolean;
  /** Normalised, without a trailing slash. */
  baseUrl: string;
  model: string;
  /** Unset leaves the server's `OLLAMA_KEEP_ALIVE` in force. */
  keepAlive?: string | number;
  timeouts: Timeouts;
  options: GenerationOptions;
  /** Where `baseUrl` came from, so errors can mention `OLLAMA_HOST` when it was used. */
  baseUrlSource: 'default' | 'config' | 'env';
}

/** `[provider.anthropic]`, `[provider.openai]`, `[provider.openrouter]`. */
export interface ApiProviderConfig {
  enabled: boolean;
  /** From the file or the usual environment variable; never logged. */
  apiKey?: string;
  /** Which environment variable the key may come from (for error messages). */
  apiKeyEnv: string;
  model: string;
  baseUrl: string;
  timeouts: Timeouts;
  maxTokens?: number;
  /** OpenRouter only: the app's URL, sent as `HTTP-Referer` for attribution. */
  appUrl?: string;
  /** OpenRouter only: the app's name, sent as `X-Title`. */
  appName?: string;
}

/** `[provider.claude-code]`. */
export interface ClaudeCodeConfig {
  enabled: boolean;
  /** Path or name of the `claude` executable. */
  command: string;
  model?: string;
  timeoutSecs: number;
  maxTurns: number;
}

/** Names of the providers Omega knows. */
export type ProviderName = 'ollama' | 'anthropic' | 'openai' | 'openrouter' | 'claude-code';

/** Every provider name, in the order `omega status` lists them. */
export const PROVIDER_NAMES: readonly ProviderName[] = ['ollama', 'anthropic', 'openai', 'openrouter', 'claude-code'];

/** `[provider]` and its sub-tables. */
export interface ProvidersSection {
  default: ProviderName;
  /** Tried in order when the default is unavailable or fails retryably. */
  fallback: ProviderName[];
  ollama: OllamaConfig;
  anthropic: ApiProviderConfig;
  openai: ApiProviderConfig;
  openrouter: ApiProviderConfig;
  'claude-code': ClaudeCodeConfig;
}

/** `[memory]`. */
export interface MemoryConfig {
  backend: 'sqlite';
  /** Absolute path; `~` already expanded. */
  dbPath: string;
  /** An upper bound on the remembered messages sent with a new one; the token budget may send fewer. */
  maxContextMessages: number;
  /**
   * Tokens of the context window kept free for the answer when the request sets no
   * `num_predict` (`[memory] answer_reserve`); {@link DEFAULT_ANSWER_RESERVE} when unset.
   */
  answerReserve?: number;
}

/** Tokens kept for the answer when neither `num_predict` nor `[memory] answer_reserve` says otherwise. */
export const DEFAULT_ANSWER_RESERVE = 1024;

/** The whole configuration. */
export interface OmegaConfig {
  omega: OmegaSection;
  provider: ProvidersSection;
  memory: MemoryConfig;
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
