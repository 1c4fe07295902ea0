/**
 * A fallback that serves the first provider's models (the embedded engine after Ollama) gets the
 * model the caller asked Ollama for, not its own default; other fallbacks keep theirs. Ollama is
 * the real provider against a closed loopback port; the fallbacks are scripted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../../src/gateway/gateway.js';
import type { GatewayEvent } from '../../src/gateway/gateway.js';
import { unusedPort } from '../support/fake-ollama.js';
import { FakeModelProvider, testConfig } from './helpers.js';

/** A scripted provider that, like the embedded engine, answers for Ollama's model names. */
class SameStore extends FakeModelProvider {
  readonly servesModelsOf = ['ollama'] as const;
}

describe('fallback to a provider that serves the same models', () => {
  let deadUrl: string;
  before(async () => {
    deadUrl = `http://127.0.0.1:${await unusedPort()}`;
  });
  const gateways: Gateway[] = [];
  after(async () => {
    for (const g of gateways) await g.close();
  });

  function open(fallbackProvider: FakeModelProvider, fallback: 'embedded' | 'openai'): Gateway {
    const config = testConfig({ fallback: [fallback], enabled: ['ollama', fallback], ollamaUrl: deadUrl });
    const gateway = new Gateway({ config, memory: null, providers: { [fallback]: fallbackProvider } });
    gateways.push(gateway);
    return gateway;
  }

  it('gets the model named for Ollama, and the metadata says it answered after Ollama', async () => {
    const embedded = new SameStore('embedded', [{ answer: 'from the store' }]);
    const answer = await open(embedded, 'embedded').handle({ channel: 'cli', conversationId: 'c1', sender: 'u', text: 'hi', model: 'gemma3:270m' });
    assert.equal(answer.text, 'from the store');
    assert.equal(answer.metadata.providerUsed, 'embedded');
    assert.deepEqual(answer.metadata.fallbackFrom, ['ollama']);
    assert.equal(embedded.requests[0]?.model, 'gemma3:270m');
    assert.equal(answer.metadata.model, 'gemma3:270m');
  });

  it("without a model named, it gets Ollama's configured model; streamed the same way", async () => {
    const embedded = new SameStore('embedded', [{ answer: 'streamed' }]);
    const events: GatewayEvent[] = [];
    for await (const event of open(embedded, 'embedded').stream({ channel: 'cli', conversationId: 'c2', sender: 'u', text: 'hi' })) events.push(event);
    assert.equal(embedded.requests[0]?.model, 'llama-config');
    const done = events.find((e) => e.type === 'done');
    assert.ok(done?.type === 'done');
    assert.equal(done.message.metadata.providerUsed, 'embedded');
    assert.deepEqual(done.message.metadata.fallbackFrom, ['ollama']);
  });

  it('a fallback that does not serve those models keeps its own model', async () => {
    const other = new FakeModelProvider('openai', [{ answer: 'elsewhere' }]);
    await open(other, 'openai').handle({ channel: 'cli', conversationId: 'c3', sender: 'u', text: 'hi', model: 'gemma3:270m' });
    assert.equal(other.requests[0]?.model, undefined);
  });
});
