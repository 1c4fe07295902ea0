/** The embedded engine's public names: the provider, its options and spec, and the store reader. */
export { EmbeddedProvider, keepAliveMs } from './provider.js';
export { embeddedSpec } from './spec.js';
export type { EmbeddedConfig } from './spec.js';
export type { EmbeddedProviderOptions } from './types.js';
export { EMBEDDED_DEFAULT_CONTEXT, EMBEDDED_DEFAULT_KEEP_ALIVE_MS, EMBEDDED_DEFAULT_TIMEOUTS } from './types.js';
export { defaultModelsDir, displayName, listStore, parseModelName, resolveModel } from './store.js';
export type { ModelName, ResolvedModel, StoreEntry } from './store.js';
