/**
 * Omega: a local-first AI provider layer and gateway with a first-class Ollama provider.
 *
 * The package root exports the provider contract and errors, configuration loading,
 * the Ollama provider, and the gateway with its SQLite memory.
 */
export * from './core/index.js';
export * from './config/index.js';
export {
  OllamaProvider,
  OLLAMA_DEFAULT_TIMEOUTS,
  notInstalledMessage,
  notRunningMessage,
} from './providers/ollama/index.js';
export type {
  EmbedResult,
  ModelDetails,
  OllamaProviderOptions,
  PullProgress,
  RunningModel,
} from './providers/ollama/index.js';
export * from './gateway/index.js';
