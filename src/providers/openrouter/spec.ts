/**
 * The OpenRouter provider's spec: a hosted provider on OpenAI's wire format, plus its two
 * attribution keys (`app_url`, `app_name`).
 */
import { hostedSpec } from '../hosted.js';
import { OPENAI_DEFAULT_TIMEOUTS } from '../openai/types.js';
import { OPENROUTER_IDENTITY, OpenRouterProvider } from './provider.js';

/** OpenRouter. */
export const openrouterSpec = hostedSpec({
  name: 'openrouter',
  label: OPENROUTER_IDENTITY.label,
  defaults: {
    baseUrl: OPENROUTER_IDENTITY.defaultBaseUrl,
    model: OPENROUTER_IDENTITY.defaultModel,
    apiKeyEnv: OPENROUTER_IDENTITY.keyEnv,
    timeouts: OPENAI_DEFAULT_TIMEOUTS,
  },
  extension: {
    // Optional attribution, sent as `HTTP-Referer` and `X-Title`.
    keys: { app_url: 'url', app_name: 'string' },
    resolve(section, options, sources) {
      if (section.has('app_url')) {
        options.appUrl = section.url('app_url', '');
        sources.appUrl = 'config';
      }
      if (section.has('app_name')) {
        options.appName = section.string('app_name', '', { nonEmpty: true });
        sources.appName = 'config';
      }
    },
  },
  create: (options, logger) => OpenRouterProvider.fromConfig(options, logger),
});
