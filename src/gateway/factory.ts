/**
 * Builds providers from configuration: one branch per provider Omega ships.
 */
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ModelProvider } from '../core/types.js';
import { PROVIDER_NAMES } from '../config/types.js';
import type { OmegaConfig, ProviderName } from '../config/types.js';
import { AnthropicProvider } from '../providers/anthropic/index.js';
import { ClaudeCodeProvider } from '../providers/claude-code/index.js';
import { OllamaProvider } from '../providers/ollama/index.js';
import { OpenAIProvider } from '../providers/openai/index.js';
import { OpenRouterProvider } from '../providers/openrouter/index.js';

/** Options of {@link buildProvider}. */
export interface BuildProviderOptions {
  logger?: Logger;
  /** The config file in use, so errors can say where to change a setting. */
  configFile?: string;
}

/** True when `name` is one of the provider names config.toml accepts. */
export function isProviderName(name: string): name is ProviderName {
  return (PROVIDER_NAMES as readonly string[]).includes(name);
}

/** Every provider whose `enabled` is true in `config`, in {@link PROVIDER_NAMES} order. */
export function enabledProviders(config: OmegaConfig): ProviderName[] {
  return PROVIDER_NAMES.filter((name) => config.provider[name].enabled);
}

function where(configFile: string | undefined): string {
  return configFile === undefined ? 'your config file (`omega init` creates one)' : configFile;
}

/** The error for a provider that config.toml turns off: says which line to add, and where. */
export function disabledProviderError(name: string, configFile?: string): ConfigError {
  return new ConfigError({
    message: `The ${name} provider is disabled; set \`[provider.${name}] enabled = true\` in ${where(configFile)}.`,
    key: `provider.${name}.enabled`,
    expected: 'true',
    ...(configFile === undefined ? {} : { file: configFile }),
  });
}

/**
 * Builds the provider called `name` from `config`. An unknown or disabled provider, or a
 * hosted one without an API key, is a {@link ConfigError} that says what to change.
 */
export function buildProvider(name: string, config: OmegaConfig, opts: BuildProviderOptions = {}): ModelProvider {
  const file = opts.configFile;
  const fileField = file === undefined ? {} : { file };
  if (!isProviderName(name)) {
    throw new ConfigError({
      message: `Unknown provider "${name}"; use one of ${PROVIDER_NAMES.join(', ')}.`,
      key: 'provider',
      expected: PROVIDER_NAMES.join(' | '),
      ...fileField,
    });
  }
  if (!config.provider[name].enabled) throw disabledProviderError(name, file);
  switch (name) {
    case 'ollama':
      return OllamaProvider.fromConfig(config.provider.ollama, opts.logger);
    case 'anthropic':
      return withConfigFile(() => AnthropicProvider.fromConfig(config.provider.anthropic, opts.logger), name, file);
    case 'openai':
      return withConfigFile(() => OpenAIProvider.fromConfig(config.provider.openai, opts.logger), name, file);
    case 'openrouter':
      return withConfigFile(() => OpenRouterProvider.fromConfig(config.provider.openrouter, opts.logger), name, file);
    case 'claude-code':
      return ClaudeCodeProvider.fromConfig(config.provider['claude-code'], opts.logger);
  }
}

/**
 * Builds a hosted provider; a missing API key surfaces as the provider's ConfigError,
 * completed with the config file so the message says where to put the key.
 */
function withConfigFile(build: () => ModelProvider, name: ProviderName, file: string | undefined): ModelProvider {
  try {
    return build();
  } catch (error) {
    if (error instanceof ConfigError && file !== undefined && error.file === undefined) {
      throw new ConfigError({
        message: error.message,
        file,
        ...(error.key === undefined ? { key: `provider.${name}.api_key` } : { key: error.key }),
        ...(error.expected === undefined ? {} : { expected: error.expected }),
        ...(error.hint === undefined ? {} : { hint: error.hint }),
        cause: error,
      });
    }
    throw error;
  }
}
