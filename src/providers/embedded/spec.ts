/**
 * The embedded engine's spec: its `[provider.embedded]` table (the model store, threads, GPU,
 * keep-alive, context), how that table and `OLLAMA_MODELS` resolve into options, and how the
 * provider is built. Building it loads nothing: node-llama-cpp is imported on the first request.
 */
import { homedir } from 'node:os';
import { isAbsolute } from 'node:path';
import type { Timeouts } from '../../core/types.js';
import type { Section, ValueSource } from '../../config/section.js';
import { TIMEOUTS_SCHEMA } from '../../config/schema.js';
import { expandHome } from '../../config/search.js';
import { dotted } from '../../config/toml.js';
import type { ProviderSpec } from '../spec.js';
import { EmbeddedProvider, keepAliveMs } from './provider.js';
import { defaultModelsDir } from './store.js';
import { EMBEDDED_DEFAULT_CONTEXT, EMBEDDED_DEFAULT_KEEP_ALIVE_MS, EMBEDDED_DEFAULT_TIMEOUTS, EMBEDDED_MIN_CONTEXT } from './types.js';

/** `[provider.embedded]` after loading. */
export interface EmbeddedConfig {
  enabled: boolean;
  /** Absolute path of the Ollama model store. */
  modelsDir: string;
  /** Model used when the embedded engine is chosen directly and the request names none. */
  model?: string;
  /** Generation threads; node-llama-cpp's choice when unset. */
  threads?: number;
  gpu: 'auto' | false;
  /** Milliseconds; negative keeps the model loaded, 0 unloads after each call. */
  keepAliveMs: number;
  /** Context window in tokens when the model's parameters and the request set no `num_ctx`. */
  context: number;
  timeouts: Timeouts;
}

/** The embedded engine: local, no key; enabled by default when `[provider]` picks it (as a fallback, typically). */
export const embeddedSpec: ProviderSpec<'embedded', EmbeddedConfig> = {
  name: 'embedded',
  label: 'the embedded engine',
  configSection: 'provider.embedded',
  env: { modelsDir: 'OLLAMA_MODELS' },
  secretEnv: [],
  keys: {
    enabled: 'boolean',
    models_dir: 'path',
    model: 'string',
    threads: 'integer',
    gpu: 'string',
    keep_alive: 'duration',
    context: 'integer',
    timeouts: TIMEOUTS_SCHEMA,
  },
  resolve(section, env, ctx) {
    const sources: Record<string, ValueSource> = {};
    let modelsDir: string;
    if (section.has('models_dir')) {
      const raw = section.string('models_dir', '', { nonEmpty: true });
      const expanded = expandHome(raw.trim(), env.HOME ?? homedir());
      if (!isAbsolute(expanded)) {
        throw section.error(
          'models_dir',
          `${dotted(section.keyPath('models_dir'))} in ${section.where('models_dir')} is "${raw}", a relative path; write an absolute path or one starting with ~/.`,
          { expected: 'an absolute path, or one starting with ~/' },
        );
      }
      modelsDir = expanded;
      sources.modelsDir = 'config';
    } else {
      modelsDir = defaultModelsDir(env, env.HOME ?? homedir());
      sources.modelsDir = env.OLLAMA_MODELS?.trim() ? 'env' : 'default';
    }
    const options: EmbeddedConfig = {
      enabled: section.boolean('enabled', ctx.selected),
      modelsDir,
      gpu: gpuOf(section),
      keepAliveMs: keepAliveOf(section),
      context: section.number('context', EMBEDDED_DEFAULT_CONTEXT, {
        integer: true,
        min: EMBEDDED_MIN_CONTEXT,
        expected: `a whole number of tokens, ${EMBEDDED_MIN_CONTEXT} or more`,
      }),
      timeouts: section.timeouts(EMBEDDED_DEFAULT_TIMEOUTS),
    };
    const model = section.optionalString('model');
    if (model !== undefined) options.model = model;
    if (section.has('threads')) options.threads = section.number('threads', 0, { integer: true, min: 1, expected: 'a whole number of threads, 1 or more' });
    for (const [option, key] of Object.entries({ enabled: 'enabled', gpu: 'gpu', keepAliveMs: 'keep_alive', context: 'context', timeouts: 'timeouts' })) {
      sources[option] = section.sourceOf(key);
    }
    if (model !== undefined) sources.model = 'config';
    if (options.threads !== undefined) sources.threads = 'config';
    return { options, sources };
  },
  create(options, logger) {
    return EmbeddedProvider.fromConfig(options, logger);
  },
};

/** `gpu = "auto"` or `gpu = false` (a string "false" is read the same way). */
function gpuOf(section: Section): 'auto' | false {
  const value = section.table.gpu;
  if (value === undefined || value === false || value === 'false') return false;
  if (value === 'auto') return 'auto';
  throw section.error('gpu', `${dotted(section.keyPath('gpu'))} in ${section.where('gpu')} is ${JSON.stringify(value)}; write gpu = "auto" or gpu = false.`, {
    expected: '"auto" or false',
  });
}

/** `keep_alive` as a Go duration string or seconds, like Ollama's; milliseconds out. */
function keepAliveOf(section: Section): number {
  const value = section.table.keep_alive;
  if (value === undefined) return EMBEDDED_DEFAULT_KEEP_ALIVE_MS;
  const ms = typeof value === 'number' || typeof value === 'string' ? keepAliveMs(value) : undefined;
  if (ms === undefined) {
    throw section.error(
      'keep_alive',
      `${dotted(section.keyPath('keep_alive'))} in ${section.where('keep_alive')} is ${JSON.stringify(value)}; write a duration such as "5m" or "1h", or a number of seconds (0 unloads after each answer, negative keeps the model loaded).`,
      { expected: 'a duration string such as "5m", or a number of seconds' },
    );
  }
  return ms;
}
