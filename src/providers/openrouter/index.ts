/** The OpenRouter provider and its public types. */
export { OpenRouterProvider, OPENROUTER_BASE_URL, DEFAULT_OPENROUTER_MODEL } from './provider.js';
export type { OpenRouterConfig, OpenRouterProviderOptions } from './provider.js';
export { perMillion, toCapabilities, toOpenRouterModelInfo, toPricing } from './wire.js';
export type { OpenRouterWireModel } from './wire.js';
