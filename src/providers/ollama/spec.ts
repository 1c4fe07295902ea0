/**
 * The Ollama provider's spec: its `[provider.ollama]` table, how that table and `OLLAMA_HOST`
 * resolve into options, and how the provider is built. See `src/providers/spec.ts`.
 */
import { ConfigError } from '../../core/errors.js';
import type { GenerationOptions, Timeouts } from '../../core/types.js';
import type { Logger } from '../../core/logger.js';
import type { Section, ValueSource } from '../../config/section.js';
import type { KeyType, TableSchema } from '../../config/schema.js';
import { TIMEOUTS_SCHEMA } from '../../config/schema.js';
import { suggest } from '../../config/suggest.js';
import { dotted } from '../../config/toml.js';
import type { ProviderSpec } from '../spec.js';
import { OLLAMA_HOST_ENV, resolveOllamaBaseUrl } from './base-url.js';
import { OllamaProvider } from './provider.js';
import { DEFAULT_OLLAMA_MODEL, OLLAMA_DEFAULT_TIMEOUTS } from './types.js';
import { DEFAULT_MAX_CONTEXT } from './context.js';
import type { ContextMode } from './context.js';
import { FLEET_SCHEMA, HOST_SCHEMA, fleetOptionsOf, hostsOf } from './fleet/config.js';
import { OllamaFleet } from './fleet/fleet.js';
import type { FleetHostConfig, FleetOptions } from './fleet/types.js';

/** `[provider.ollama]` after loading. */
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
  baseUrlSource: ValueSource;
  /** `auto` sizes `num_ctx` to each conversation; `server` (the default) leaves the server's default. */
  context?: ContextMode;
  /** The largest window `context = "auto"` chooses, in tokens. */
  maxContext?: number;
  /**
   * `[[provider.ollama.hosts]]`: several hosts behind one provider (an {@link OllamaFleet}).
   * Unset for the one-host case; when set, `baseUrl` is the first host's URL.
   */
  hosts?: FleetHostConfig[];
  /** `[provider.ollama.fleet]`: the fleet's knobs; the loader always sets them (defaults when the table is absent). */
  fleet?: FleetOptions;
}

/** Bounds of a numeric Ollama option. */
type OptionRule = { kind: 'number' | 'integer'; min?: number; max?: number } | { kind: 'strings' } | { kind: 'boolean' };

/** Ollama 0.9.6 generation/runner options and the type each must have. */
const OLLAMA_OPTION_RULES: Readonly<Record<string, OptionRule>> = {
  temperature: { kind: 'number', min: 0 },
  top_p: { kind: 'number', min: 0, max: 1 },
  min_p: { kind: 'number', min: 0, max: 1 },
  typical_p: { kind: 'number', min: 0, max: 1 },
  top_k: { kind: 'integer', min: 0 },
  seed: { kind: 'integer' },
  num_ctx: { kind: 'integer', min: 1 },
  num_predict: { kind: 'integer' },
  num_keep: { kind: 'integer' },
  repeat_penalty: { kind: 'number' },
  repeat_last_n: { kind: 'integer' },
  presence_penalty: { kind: 'number' },
  frequency_penalty: { kind: 'number' },
  stop: { kind: 'strings' },
  num_batch: { kind: 'integer', min: 1 },
  num_gpu: { kind: 'integer' },
  main_gpu: { kind: 'integer', min: 0 },
  num_thread: { kind: 'integer', min: 0 },
  use_mmap: { kind: 'boolean' },
};

const OPTIONS_SCHEMA: TableSchema = Object.fromEntries(
  Object.entries(OLLAMA_OPTION_RULES).map(([key, rule]): [string, KeyType] => [key, rule.kind]),
);

/** The keys of `[provider.ollama]`. */
const KEYS: TableSchema = {
  enabled: 'boolean',
  base_url: 'url',
  model: 'string',
  keep_alive: 'duration',
  timeouts: TIMEOUTS_SCHEMA,
  // Open: Ollama takes options this list does not know, so they are passed on with a warning.
  options: { table: OPTIONS_SCHEMA, open: true },
  context: 'string',
  max_context: 'integer',
  hosts: HOST_SCHEMA,
  fleet: FLEET_SCHEMA,
};

/** Go's time.ParseDuration grammar, which Ollama applies to a string keep_alive. */
const GO_DURATION_RE = /^[-+]?(?:0|(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/;

function keepAliveOf(section: Section): string | number | undefined {
  const value = section.table.keep_alive;
  if (value === undefined) return undefined;
  const expected = 'a duration string such as "5m" or "1h30m", or a number of seconds (0 unloads at once, negative keeps loaded)';
  if (typeof value === 'number') return section.number('keep_alive', 0, { expected });
  if (typeof value !== 'string') throw section.typeError('keep_alive', expected);
  const trimmed = value.trim();
  if (GO_DURATION_RE.test(trimmed)) return trimmed;
  const hint = /^[-+]?\d+(\.\d+)?$/.test(trimmed)
    ? `a number in quotes needs a unit, so write "${trimmed}s" or the bare number ${trimmed}`
    : 'use a duration such as "5m" or "1h30m", or a number of seconds';
  const where = `${dotted(section.keyPath('keep_alive'))} in ${section.where('keep_alive')}`;
  throw section.error('keep_alive', `${where} is "${trimmed}", which Ollama cannot read; ${hint}.`, { expected });
}

function optionOf(section: Section, key: string, rule: OptionRule): unknown {
  const value = section.table[key];
  if (rule.kind === 'boolean') return section.boolean(key, false);
  if (rule.kind === 'strings') {
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      throw section.typeError(key, 'an array of strings, such as ["\\n\\n"]');
    }
    return [...(value as string[])];
  }
  const range =
    rule.min !== undefined && rule.max !== undefined
      ? ` from ${rule.min} to ${rule.max}`
      : rule.min !== undefined
        ? ` of at least ${rule.min}`
        : '';
  const expected = `${rule.kind === 'integer' ? 'an integer' : 'a number'}${range}`;
  return section.number(key, 0, { integer: rule.kind === 'integer', min: rule.min, max: rule.max, expected });
}

function optionsOf(section: Section): GenerationOptions {
  const out: GenerationOptions = {};
  const known = Object.keys(OLLAMA_OPTION_RULES);
  for (const [key, value] of Object.entries(section.table)) {
    const rule = OLLAMA_OPTION_RULES[key];
    if (rule !== undefined) {
      out[key] = optionOf(section, key, rule);
      continue;
    }
    const guess = suggest(key, known);
    section.warn(
      key,
      `Option ${dotted(section.keyPath(key))} in ${section.where(key)} is not one Ollama 0.9.6 knows; it is passed on as is, but ${
        guess === undefined ? 'Ollama ignores unknown options' : `did you mean ${guess}?`
      }`.replace(/([^?])$/, '$1.'),
    );
    out[key] = value;
  }
  return out;
}

/** `base_url`, else `OLLAMA_HOST`, else the default, through the one resolver; errors located in the file. */
function baseUrlOf(section: Section, env: NodeJS.ProcessEnv): { url: string; source: ValueSource } {
  const value = section.has('base_url') ? section.string('base_url', '', { nonEmpty: true }) : undefined;
  try {
    return resolveOllamaBaseUrl({ value, env, setting: `${dotted(section.keyPath('base_url'))} in ${section.where('base_url')}` });
  } catch (error) {
    if (error instanceof ConfigError && value !== undefined) {
      throw section.error('base_url', error.message, { expected: error.expected ?? 'an http:// or https:// URL' });
    }
    throw error;
  }
}

/** Ollama: local, no key; enabled by default when `[provider]` picks it. */
export const ollamaSpec: ProviderSpec<'ollama', OllamaConfig> = {
  name: 'ollama',
  label: 'Ollama',
  configSection: 'provider.ollama',
  env: { host: OLLAMA_HOST_ENV },
  secretEnv: [],
  keys: KEYS,
  resolve(section, env, ctx) {
    const hosts = hostsOf(section);
    const base = hosts === undefined ? baseUrlOf(section, env) : { url: (hosts[0] as FleetHostConfig).url, source: 'config' as const };
    const options: OllamaConfig = {
      // `enabled = false` is the documented default, but a config that picks Ollama (as default,
      // also by omission, or as a fallback) without saying `enabled` clearly means to use it.
      enabled: section.boolean('enabled', ctx.selected),
      baseUrl: base.url,
      model: section.string('model', DEFAULT_OLLAMA_MODEL, { nonEmpty: true }),
      timeouts: section.timeouts(OLLAMA_DEFAULT_TIMEOUTS),
      options: optionsOf(section.child('options')),
      baseUrlSource: base.source,
      fleet: fleetOptionsOf(section.child('fleet')),
    };
    if (hosts !== undefined) options.hosts = hosts;
    const keepAlive = keepAliveOf(section);
    if (keepAlive !== undefined) options.keepAlive = keepAlive;
    options.context = section.oneOf<ContextMode>('context', 'server', ['auto', 'server']);
    options.maxContext = section.number('max_context', DEFAULT_MAX_CONTEXT, {
      integer: true,
      min: 256,
      expected: 'a whole number of tokens, 256 or more',
    });
    const sources: Record<string, ValueSource> = {
      enabled: section.sourceOf('enabled'),
      baseUrl: base.source,
      model: section.sourceOf('model'),
      timeouts: section.sourceOf('timeouts'),
      options: section.sourceOf('options'),
    };
    if (keepAlive !== undefined) sources.keepAlive = 'config';
    sources.context = section.sourceOf('context');
    sources.maxContext = section.sourceOf('max_context');
    if (hosts !== undefined) sources.hosts = 'config';
    sources.fleet = section.sourceOf('fleet');
    return { options, sources };
  },
  create(options: OllamaConfig, logger?: Logger) {
    // One host stays the plain provider: a fleet's routing and timers cost nothing there.
    if (options.hosts === undefined) return OllamaProvider.fromConfig(options, logger);
    return new OllamaFleet({
      hosts: options.hosts,
      ...(options.fleet === undefined ? {} : { fleet: options.fleet }),
      provider: {
        model: options.model,
        timeouts: options.timeouts,
        options: options.options,
        ...(options.keepAlive === undefined ? {} : { keepAlive: options.keepAlive }),
        ...(options.context === undefined ? {} : { context: options.context }),
        ...(options.maxContext === undefined ? {} : { maxContext: options.maxContext }),
      },
      ...(logger === undefined ? {} : { logger }),
    });
  },
};
