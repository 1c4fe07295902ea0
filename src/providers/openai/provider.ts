/**
 * The OpenAI provider: Chat Completions at api.openai.com, or at any OpenAI-compatible server
 * (vLLM, LM Studio, llama.cpp's server, Ollama's `/v1`, ...) through `base_url`.
 */
import type { ApiProviderConfig } from '../hosted.js';
import { hostedOptions } from '../hosted.js';
import type { Logger } from '../../core/logger.js';
import { OpenAICompatibleProvider } from './compatible.js';
import type { CompatibleIdentity } from './compatible.js';
import type { OptionDialect } from './wire.js';
import type { OpenAIProviderOptions } from './types.js';

/** OpenAI's API root. */
export const OPENAI_BASE_URL = 'https://api.openai.com/v1';
/** Model used when neither the config nor the call names one. */
export const DEFAULT_OPENAI_MODEL = 'gpt-4o-mini';

/** Who the OpenAI provider is: its names, key variable and defaults. */
export const OPENAI_IDENTITY: CompatibleIdentity = {
  name: 'openai',
  label: 'OpenAI',
  keyEnv: 'OPENAI_API_KEY',
  configSection: 'provider.openai',
  defaultBaseUrl: OPENAI_BASE_URL,
  defaultModel: DEFAULT_OPENAI_MODEL,
  missingKeyHint:
    'For an OpenAI-compatible server that needs no key (such as Ollama at http://localhost:11434/v1), set any placeholder, e.g. api_key = "none".',
  spokenByOthers: true,
};

/** Talks to OpenAI's Chat Completions API, or to any server that speaks it. */
export class OpenAIProvider extends OpenAICompatibleProvider {
  /** Always `openai`. */
  declare readonly name: 'openai';

  /** Throws a ConfigError when no key is given and `OPENAI_API_KEY` is unset. */
  constructor(opts: OpenAIProviderOptions = {}) {
    super(OPENAI_IDENTITY, opts);
  }

  /**
   * A provider from the loaded `[provider.openai]` section. The loader already read
   * `OPENAI_API_KEY`, so the environment is not consulted again.
   */
  static fromConfig(config: ApiProviderConfig, logger?: Logger): OpenAIProvider {
    return new OpenAIProvider(hostedOptions(config, logger));
  }

  /** OpenAI's own API wants `max_completion_tokens` (reasoning models refuse `max_tokens`); compatible servers know `max_tokens`. */
  protected override optionDialect(): OptionDialect {
    return { maxTokensField: new URL(this.baseUrl).host === 'api.openai.com' ? 'max_completion_tokens' : 'max_tokens' };
  }
}
