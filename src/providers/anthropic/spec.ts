/** The Anthropic provider's spec: a hosted provider with a required `max_tokens` default. */
import { hostedSpec } from '../hosted.js';
import { AnthropicProvider } from './provider.js';
import {
  ANTHROPIC_API_KEY_ENV,
  ANTHROPIC_DEFAULT_BASE_URL,
  ANTHROPIC_DEFAULT_MAX_TOKENS,
  ANTHROPIC_DEFAULT_MODEL,
  ANTHROPIC_DEFAULT_TIMEOUTS,
} from './types.js';

/** Anthropic's Messages API. */
export const anthropicSpec = hostedSpec({
  name: 'anthropic',
  label: 'Anthropic',
  defaults: {
    baseUrl: ANTHROPIC_DEFAULT_BASE_URL,
    model: ANTHROPIC_DEFAULT_MODEL,
    apiKeyEnv: ANTHROPIC_API_KEY_ENV,
    maxTokens: ANTHROPIC_DEFAULT_MAX_TOKENS,
    timeouts: ANTHROPIC_DEFAULT_TIMEOUTS,
  },
  create: (options, logger) => AnthropicProvider.fromConfig(options, logger),
});
