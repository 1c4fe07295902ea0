/** The Ollama provider and its public types. */
export { OllamaProvider } from './provider.js';
export { DEFAULT_OLLAMA_MODEL, OLLAMA_DEFAULT_TIMEOUTS } from './types.js';
export { ollamaSpec } from './spec.js';
export type { OllamaConfig } from './spec.js';
export { DEFAULT_OLLAMA_URL, OLLAMA_HOST_ENV, connectableOllamaUrl, parseOllamaHost, resolveOllamaBaseUrl } from './base-url.js';
export type {
  EmbedOptions,
  EmbedResult,
  ModelDetails,
  OllamaProviderOptions,
  OllamaStatus,
  PullProgress,
  RunningModel,
} from './types.js';
export { notInstalledMessage, notRunningMessage, notRunningStep, notRunningSummary } from './errors.js';
export { buildChatBody, contextWindowOf, stripDataUrl, toCapabilities, toChunk, toMetadata, toTimings, toUsage } from './wire.js';
