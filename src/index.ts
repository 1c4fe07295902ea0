/**
 * Omega: a local-first AI provider layer and gateway with a first-class Ollama provider.
 *
 * The package root exports the provider contract and errors, configuration loading, the
 * Ollama provider and its several-host fleet, the hosted providers, the registry of provider specs, and the gateway with
 * its SQLite memory.
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
  EmbedOptions,
  EmbedResult,
  ModelDetails,
  OllamaProviderOptions,
  OllamaStatus,
  PullProgress,
  RunningModel,
} from './providers/ollama/index.js';
export { DEFAULT_FLEET_OPTIONS, OllamaFleet, route as routeFleetRequest } from './providers/ollama/fleet/index.js';
export type {
  FleetEvent,
  FleetHostConfig,
  FleetLease,
  FleetOptions,
  FleetPullResult,
  FleetSnapshot,
  HostSnapshot,
  HostView,
  OllamaFleetOptions,
  RouteDecision,
} from './providers/ollama/fleet/index.js';
export { AnthropicProvider } from './providers/anthropic/index.js';
export type { AnthropicProviderOptions } from './providers/anthropic/index.js';
export { OpenAIProvider, OpenAICompatibleProvider } from './providers/openai/index.js';
export type { OpenAIProviderOptions, OpenAICompatibleOptions } from './providers/openai/index.js';
export { OpenRouterProvider } from './providers/openrouter/index.js';
export type { OpenRouterProviderOptions } from './providers/openrouter/index.js';
export { ClaudeCodeProvider } from './providers/claude-code/index.js';
export type { ClaudeCodeProviderOptions } from './providers/claude-code/index.js';
export { EmbeddedProvider } from './providers/embedded/index.js';
export type { EmbeddedProviderOptions } from './providers/embedded/index.js';
export { PROVIDER_SPECS, providerSpec } from './providers/registry.js';
export type { ProviderConfigs } from './providers/registry.js';
export type { BaseProviderOptions, OptionsOf, ProviderSpec, ResolveContext, Resolved } from './providers/spec.js';
export * from './gateway/index.js';
