/**
 * Builds providers from configuration by looking their spec up in the registry; no provider
 * is named here.
 */
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ModelProvider } from '../core/types.js';
import type { OmegaConfig } from '../config/types.js';
import { PROVIDER_NAMES, isProviderName, providerSpec } from '../providers/registry.js';
import type { ProviderName } from '../providers/registry.js';
import type { ProviderSpec } from '../providers/spec.js';

/** Options of {@link buildProvider}. */
export interface BuildProviderOptions {
  logger?: Logger;
  /** The config file in use, so errors can say where to change a setting. */
  configFile?: string;
}

export { isProviderName };

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
  const spec: ProviderSpec = providerSpec(name);
  return withConfigFile(() => spec.create(config.provider[name], opts.logger), spec, file);
}

/**
 * Builds a provider; a ConfigError from its constructor (a missing API key, a bad address)
 * is completed with the config file so the message says where to change it.
 */
function withConfigFile(build: () => ModelProvider, spec: ProviderSpec, file: string | undefined): ModelProvider {
  try {
    return build();
  } catch (error) {
    if (error instanceof ConfigError && file !== undefined && error.file === undefined) {
      throw new ConfigError({
        message: error.message,
        file,
        ...(error.key === undefined ? { key: `${spec.configSection}.api_key` } : { key: error.key }),
        ...(error.expected === undefined ? {} : { expected: error.expected }),
        ...(error.hint === undefined ? {} : { hint: error.hint }),
        cause: error,
      });
    }
    throw error;
  }
}
