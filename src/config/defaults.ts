/**
 * Provider defaults under the names the config module has always exported. Each value is read
 * from its provider's spec, which owns it; nothing here is a second copy.
 */
import type { Timeouts } from '../core/types.js';
import { anthropicSpec } from '../providers/anthropic/spec.js';
import { HOSTED_DEFAULT_TIMEOUTS } from '../providers/hosted.js';
import { openaiSpec } from '../providers/openai/spec.js';
import { openrouterSpec } from '../providers/openrouter/spec.js';
import { CLAUDE_CODE_DEFAULTS } from '../providers/claude-code/provider.js';
import { DEFAULT_OLLAMA_MODEL, OLLAMA_DEFAULT_TIMEOUTS } from '../providers/ollama/types.js';

export { CLAUDE_CODE_DEFAULTS, DEFAULT_OLLAMA_MODEL };

/** Ollama's phase timeouts when config.toml sets none: a cold model load may take minutes. */
export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = OLLAMA_DEFAULT_TIMEOUTS;

/** Phase timeouts of the hosted API providers when config.toml sets none (the same for all three). */
export const DEFAULT_API_TIMEOUTS: Readonly<Timeouts> = HOSTED_DEFAULT_TIMEOUTS;

/** Names of the hosted providers that take an API key. */
export type ApiProviderName = 'anthropic' | 'openai' | 'openrouter';

/** Defaults of each hosted provider, including the environment variable its key may come from. */
export const API_PROVIDER_DEFAULTS: Readonly<
  Record<ApiProviderName, { baseUrl: string; model: string; apiKeyEnv: string; maxTokens?: number }>
> = Object.freeze(
  Object.fromEntries(
    [anthropicSpec, openaiSpec, openrouterSpec].map((spec) => {
      const { baseUrl, model, apiKeyEnv, maxTokens } = spec.defaults;
      return [spec.name, { baseUrl, model, apiKeyEnv, ...(maxTokens === undefined ? {} : { maxTokens }) }];
    }),
  ) as Record<ApiProviderName, { baseUrl: string; model: string; apiKeyEnv: string; maxTokens?: number }>,
);
