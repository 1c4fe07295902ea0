/**
 * What a provider tells the rest of Omega about itself: its defaults, environment variables,
 * the keys and types of its `[provider.<name>]` table, how that table and the environment
 * resolve into options (with where each value came from), and how to build it. The config
 * loader and the gateway's factory read specs from the registry; neither names a provider.
 */
import type { Logger } from '../core/logger.js';
import type { ModelProvider } from '../core/types.js';
import type { Section, ValueSource } from '../config/section.js';
import type { TableSchema } from '../config/schema.js';

export type { ValueSource } from '../config/section.js';

/** What the loader knows beyond the provider's own table. */
export interface ResolveContext {
  /** True when `[provider]` names this provider as the default (also by omission) or a fallback. */
  selected: boolean;
}

/** Options resolved from a section and the environment, and the source of each set value. */
export interface Resolved<O> {
  options: O;
  /** Keyed by option name (`baseUrl`, `apiKey`...); options left unset have no entry. */
  sources: Readonly<Record<string, ValueSource>>;
}

/** The options every provider's section resolves to at least. */
export interface BaseProviderOptions {
  enabled: boolean;
}

/** One provider's description; see the module comment. */
export interface ProviderSpec<N extends string = string, O extends BaseProviderOptions = BaseProviderOptions> {
  /** The name in config.toml, `provider.default` and model ids, e.g. `ollama`. */
  readonly name: N;
  /** The service's name in sentences, e.g. `Ollama`. */
  readonly label: string;
  /** The dotted config table, e.g. `provider.ollama`; messages name keys under it. */
  readonly configSection: string;
  /** Environment variables the provider reads, by role (`host`, `apiKey`). */
  readonly env: Readonly<Record<string, string>>;
  /** Environment variables whose values are secrets, redacted from every config message. */
  readonly secretEnv: readonly string[];
  /** The keys of `[provider.<name>]` and their types. */
  readonly keys: TableSchema;
  /** Reads the provider's table (unknown keys are already warned about) and the environment. */
  resolve(section: Section, env: NodeJS.ProcessEnv, ctx: ResolveContext): Resolved<O>;
  /** Builds the provider from resolved options. */
  create(options: O, logger?: Logger): ModelProvider;
}

/** The options type a spec resolves to. */
export type OptionsOf<S> = S extends ProviderSpec<string, infer O> ? O : never;
