/**
 * The one-line notice `omega ask` prints on stderr when the embedded engine answered: the
 * answer is real, but it came from Omega's own llama.cpp, not from `ollama serve`, and the person
 * should know their server is down.
 */
import type { GatewayMetadata } from '../gateway/types.js';

/** The notice for an answer from the embedded engine; undefined for any other provider. */
export function embeddedNotice(metadata: GatewayMetadata): string | undefined {
  if (metadata.providerUsed !== 'embedded') return undefined;
  const after = metadata.fallbackFrom ?? [];
  const why = after.includes('ollama') ? ' because Ollama did not answer; start `ollama serve` to use it again' : '';
  return `note: answered by the embedded engine from Ollama's model store (${metadata.model})${why}.`;
}
