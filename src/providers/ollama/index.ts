/** The Ollama provider and its public types. */
export { OllamaProvider, DEFAULT_OLLAMA_MODEL } from './provider.js';
export { OLLAMA_DEFAULT_TIMEOUTS } from './types.js';
export type { EmbedResult, ModelDetails, OllamaProviderOptions, PullProgress, RunningModel } from './types.js';
export { notInstalledMessage, notRunningMessage, notRunningStep, notRunningSummary } from './errors.js';
export { buildChatBody, contextWindowOf, stripDataUrl, toCapabilities, toChunk, toMetadata, toTimings, toUsage } from './wire.js';
