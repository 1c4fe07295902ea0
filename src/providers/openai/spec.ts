/** The OpenAI provider's spec: a hosted provider; `base_url` may point at any compatible server. */
import { hostedSpec } from '../hosted.js';
import { OPENAI_IDENTITY, OpenAIProvider } from './provider.js';
import { OPENAI_DEFAULT_TIMEOUTS } from './types.js';

/** OpenAI's Chat Completions, or a compatible server. */
export const openaiSpec = hostedSpec({
  name: 'openai',
  label: OPENAI_IDENTITY.label,
  defaults: {
    baseUrl: OPENAI_IDENTITY.defaultBaseUrl,
    model: OPENAI_IDENTITY.defaultModel,
    apiKeyEnv: OPENAI_IDENTITY.keyEnv,
    timeouts: OPENAI_DEFAULT_TIMEOUTS,
  },
  create: (options, logger) => OpenAIProvider.fromConfig(options, logger),
});
