/** The stderr line `omega ask` prints when the embedded engine answered, and only then. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { embeddedNotice } from '../../src/cli/embedded-notice.js';

test('the notice names the model and, after a fallback from Ollama, what to start', () => {
  const base = { model: 'llama3.2:latest', processingTimeMs: 5 };
  assert.equal(embeddedNotice({ ...base, providerUsed: 'ollama' }), undefined);
  assert.equal(
    embeddedNotice({ ...base, providerUsed: 'embedded', fallbackFrom: ['ollama'] }),
    "note: answered by the embedded engine from Ollama's model store (llama3.2:latest) because Ollama did not answer; start `ollama serve` to use it again.",
  );
  assert.equal(embeddedNotice({ ...base, providerUsed: 'embedded' }), "note: answered by the embedded engine from Ollama's model store (llama3.2:latest).");
});
