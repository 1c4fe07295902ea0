/** Kept for existing imports: the Ollama address rules live with the Ollama provider. */
export {
  DEFAULT_OLLAMA_URL,
  OLLAMA_HOST_ENV,
  connectableOllamaUrl,
  parseOllamaHost,
  resolveOllamaBaseUrl,
} from '../providers/ollama/base-url.js';
export type { OllamaBaseUrlInput, ResolvedOllamaBaseUrl } from '../providers/ollama/base-url.js';
