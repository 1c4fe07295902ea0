/** The OpenAI provider (and the base of every OpenAI-compatible one) and its public types. */
export { OpenAIProvider, OPENAI_BASE_URL, DEFAULT_OPENAI_MODEL } from './provider.js';
export { OpenAICompatibleProvider } from './compatible.js';
export type { CompatibleIdentity } from './compatible.js';
export { OPENAI_DEFAULT_TIMEOUTS } from './types.js';
export type { OpenAICompatibleOptions, OpenAIProviderOptions } from './types.js';
export type { ApiErrorContext, ApiErrorInfo } from './errors.js';
export { errorInfoOf, fromHttpStatus, fromStreamError, fromTransport, redact } from './errors.js';
export { CompletionState, streamCompletion } from './stream.js';
export {
  ToolCallAssembler,
  applyOptions,
  baseChatBody,
  guessCapabilities,
  imageUrl,
  responseFormat,
  toModelInfo,
  toUsage,
  toWireMessages,
} from './wire.js';
export type { OptionDialect } from './wire.js';
