/**
 * What the hosted API providers (Anthropic, OpenAI, OpenRouter) share in their specs: the same
 * table keys, the API key from the file or one environment variable, and the same options
 * handed to their constructors. A hosted provider's spec is one call to {@link hostedSpec}.
 */
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ModelProvider, Timeouts } from '../core/types.js';
import type { Section, ValueSource } from '../config/section.js';
import type { TableSchema } from '../config/schema.js';
import { TIMEOUTS_SCHEMA } from '../config/schema.js';
import { parseHttpUrl, shownUrl } from '../config/url.js';
import type { ProviderSpec } from './spec.js';

/** `[provider.anthropic]`, `[provider.openai]`, `[provider.openrouter]` after loading. */
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

/**
 * The phase timeouts of a hosted API when nothing sets them: connect 10 s, first byte 2 min,
 * 1 min of silence mid-stream, no overall limit. No model load to wait for, unlike Ollama.
 */
export const HOSTED_DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  connectMs: 10_000,
  loadMs: 120_000,
  idleMs: 60_000,
  requestMs: 0,
});

/** A hosted provider's defaults. */
export interface HostedDefaults {
  baseUrl: string;
  model: string;
  /** The environment variable the key comes from when the file has none. */
  apiKeyEnv: string;
  /** Only where the API needs one (Anthropic's Messages API refuses a request without it). */
  maxTokens?: number;
  timeouts: Readonly<Timeouts>;
}

/** A hosted provider's spec, with its defaults readable by name. */
export interface HostedSpec<N extends string> extends ProviderSpec<N, ApiProviderConfig> {
  readonly defaults: Readonly<HostedDefaults>;
}

/** What a hosted provider adds to the shared keys (OpenRouter's attribution). */
export interface HostedExtension {
  keys: TableSchema;
  resolve(section: Section, options: ApiProviderConfig, sources: Record<string, ValueSource>): void;
}

/** Everything {@link hostedSpec} needs to know about one provider. */
export interface HostedDescription<N extends string> {
  name: N;
  label: string;
  defaults: HostedDefaults;
  create(options: ApiProviderConfig, logger?: Logger): ModelProvider;
  extension?: HostedExtension;
}

/** The keys every hosted provider's table takes. */
const HOSTED_KEYS: TableSchema = {
  enabled: 'boolean',
  api_key: 'string',
  model: 'string',
  base_url: 'url',
  timeouts: TIMEOUTS_SCHEMA,
  max_tokens: 'integer',
};

/** Builds the spec of a hosted provider from its description. */
export function hostedSpec<N extends string>(d: HostedDescription<N>): HostedSpec<N> {
  return {
    name: d.name,
    label: d.label,
    configSection: `provider.${d.name}`,
    env: { apiKey: d.defaults.apiKeyEnv },
    secretEnv: [d.defaults.apiKeyEnv],
    keys: d.extension === undefined ? HOSTED_KEYS : { ...HOSTED_KEYS, ...d.extension.keys },
    defaults: d.defaults,
    resolve(section, env) {
      const resolved = resolveHosted(section, env, d.defaults);
      d.extension?.resolve(section, resolved.options, resolved.sources);
      if (resolved.options.enabled && resolved.options.apiKey === undefined) {
        section.warn(
          'api_key',
          `Provider ${d.name} is enabled but has no API key; set ${d.defaults.apiKeyEnv} or api_key under [provider.${d.name}].`,
        );
      }
      return resolved;
    },
    create: d.create,
  };
}

function resolveHosted(
  section: Section,
  env: NodeJS.ProcessEnv,
  defaults: HostedDefaults,
): { options: ApiProviderConfig; sources: Record<string, ValueSource> } {
  const options: ApiProviderConfig = {
    enabled: section.boolean('enabled', false),
    apiKeyEnv: defaults.apiKeyEnv,
    model: section.string('model', defaults.model, { nonEmpty: true }),
    baseUrl: section.url('base_url', defaults.baseUrl),
    timeouts: section.timeouts(defaults.timeouts),
  };
  const sources: Record<string, ValueSource> = {
    enabled: section.sourceOf('enabled'),
    model: section.sourceOf('model'),
    baseUrl: section.sourceOf('base_url'),
    timeouts: section.sourceOf('timeouts'),
  };
  const fromFile = section.string('api_key', '').trim();
  const fromEnv = env[defaults.apiKeyEnv]?.trim();
  if (fromFile !== '') {
    options.apiKey = fromFile;
    sources.apiKey = 'config';
  } else if (fromEnv) {
    options.apiKey = fromEnv;
    sources.apiKey = 'env';
  }
  const maxTokens = section.has('max_tokens')
    ? section.number('max_tokens', 0, { integer: true, min: 1, expected: 'a whole number of tokens, 1 or more' })
    : defaults.maxTokens;
  if (maxTokens !== undefined) {
    options.maxTokens = maxTokens;
    sources.maxTokens = section.sourceOf('max_tokens');
  }
  return { options, sources };
}

/** Constructor options shared by the hosted providers, from a loaded section. */
export interface HostedOptions {
  apiKey?: string;
  baseUrl: string;
  model: string;
  timeouts: Timeouts;
  maxTokens?: number;
  logger?: Logger;
  env: NodeJS.ProcessEnv;
}

/**
 * The constructor options of a hosted provider from its loaded section. The loader already
 * read the key's environment variable, so the environment is not consulted again.
 */
export function hostedOptions(config: ApiProviderConfig, logger?: Logger): HostedOptions {
  return {
    ...(config.apiKey === undefined ? {} : { apiKey: config.apiKey }),
    baseUrl: config.baseUrl,
    model: config.model,
    timeouts: config.timeouts,
    ...(config.maxTokens === undefined ? {} : { maxTokens: config.maxTokens }),
    ...(logger === undefined ? {} : { logger }),
    env: {},
  };
}

/**
 * A hosted provider's base URL, checked with the same rule as config.toml's: `value` (blank
 * means `fallback`) must be an http(s) URL. `section` is the provider's dotted config table.
 *
 * @throws ConfigError keyed `<section>.base_url`.
 */
export function hostedBaseUrl(value: string | undefined, section: string, fallback: string): URL {
  const raw = value?.trim() || fallback;
  const url = parseHttpUrl(raw);
  if (url === undefined) {
    throw new ConfigError({
      key: `${section}.base_url`,
      expected: 'an http:// or https:// URL',
      message: `${section}.base_url must be an http:// or https:// URL, but ${shownUrl(raw)} is not; use a value like ${fallback}.`,
    });
  }
  return url;
}

/** Who is asking for a key, for {@link hostedApiKey}'s message. */
export interface KeyOwner {
  /** Service name in sentences, e.g. `Anthropic`. */
  label: string;
  /** The environment variable the key comes from when none is given. */
  keyEnv: string;
  /** Dotted config table, e.g. `provider.anthropic`. */
  configSection: string;
  /** Where to get a key, or what to set instead. */
  hint?: string;
}

/**
 * A hosted provider's API key: `value`, else the owner's environment variable.
 *
 * @throws ConfigError keyed `<section>.api_key` when neither is set.
 */
export function hostedApiKey(value: string | undefined, env: NodeJS.ProcessEnv, owner: KeyOwner): string {
  const key = value?.trim() || env[owner.keyEnv]?.trim();
  if (key) return key;
  const section = owner.configSection;
  throw new ConfigError({
    key: `${section}.api_key`,
    expected: 'an API key',
    message: `The ${owner.label} provider needs an API key; set ${owner.keyEnv} or api_key under [${section}] (${section}.api_key).`,
    ...(owner.hint === undefined ? {} : { hint: owner.hint }),
  });
}
