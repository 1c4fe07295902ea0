/**
 * Builds providers from configuration: one branch per provider Omega ships.
 */
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Provider } from '../core/types.js';
import { PROVIDER_NAMES } from '../config/types.js';
import type { OmegaConfig, ProviderName } from '../config/types.js';
import { OllamaProvider } from '../providers/ollama/index.js';

/** Providers this version of Omega can build; the others are known names that land later. */
export const IMPLEMENTED_PROVIDERS: readonly ProviderName[] = ['ollama'];

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

/** True when this version of Omega can build the provider. */
export function isImplementedProvider(name: string): boolean {
  return (IMPLEMENTED_PROVIDERS as readonly string[]).includes(name);
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
 * Builds the provider called `name` from `config`. An unknown, not yet implemented or
 * disabled provider is a {@link ConfigError} that says what to change.
 */
export function buildProvider(name: string, config: OmegaConfig, opts: BuildProviderOptions = {}): Provider {
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
  if (!isImplementedProvider(name)) {
    throw new ConfigError({
      message: `The ${name} provider is not available in this version of Omega yet; use ${IMPLEMENTED_PROVIDERS.join(' or ')} for now.`,
      key: `provider.${name}`,
      ...fileField,
    });
  }
  if (!config.provider[name].enabled) throw disabledProviderError(name, file);
  switch (name) {
    case 'ollama':
      return OllamaProvider.fromConfig(config.provider.ollama, opts.logger);
    default:
      // Unreachable while IMPLEMENTED_PROVIDERS and this switch agree; kept as a guard for the next provider.
      throw new ConfigError({
        message: `The ${name} provider is not available in this version of Omega yet; use ollama for now.`,
        key: `provider.${name}`,
        ...fileField,
      });
  }
}
