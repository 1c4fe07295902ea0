/** The Anthropic Messages API provider and its public types. */
export { AnthropicProvider } from './provider.js';
export {
  ANTHROPIC_DEFAULT_BASE_URL,
  ANTHROPIC_DEFAULT_MAX_TOKENS,
  ANTHROPIC_DEFAULT_MODEL,
  ANTHROPIC_DEFAULT_TIMEOUTS,
  ANTHROPIC_VERSION,
  THINKING_BUDGETS,
} from './types.js';
export type { AnthropicProviderOptions } from './types.js';
export { buildRequestBody, imageSource, sniffImageType, thinkingBudget, toDoneReason, toModelInfo, toWireMessages } from './wire.js';
