/**
 * Context that fits, on the real small model (Gemma 3 270M, trained for 32,768 tokens) and each
 * Ollama version the runner tests: a conversation longer than the window is answered with its
 * oldest turns left out, never silently cut; `context: 'auto'` raises `num_ctx`; a prompt larger
 * than the cap is `context_overflow` with numbers; capability checks load nothing. Prompts are
 * kept to a few hundred tokens, since evaluating them is the slow part on a 2-core machine.
 *
 * Run by `npm test` on every version, or alone (it starts its own newest server):
 *   node --import tsx --test test/integration/context.test.ts
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OllamaProvider } from '../../src/providers/ollama/index.js';
import { isProviderError } from '../../src/core/errors.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { SqliteMemory } from '../../src/gateway/memory/sqlite.js';
import { loadConfig } from '../../src/config/load.js';
import { compareVersions } from '../../scripts/get-ollama.js';
import { realModelForTests, useOllama } from '../support/ollama-harness.js';

const real = await realModelForTests();
const SLOW = { timeout: 600_000, skip: real.skip };
/** 0.9.6's runner needs at least Gemma 3's 512-token sliding window (see real-model.test.ts). */
const WINDOW = 512;

async function loadedContext(url: string, model: string): Promise<number | undefined | null> {
  const ps = (await (await fetch(`${url}/api/ps`)).json()) as { models: { name: string; context_length?: number }[] };
  const entry = ps.models.find((m) => m.name === `${model}:latest`);
  return entry === undefined ? null : entry.context_length;
}

async function unloaded(url: string, model: string): Promise<boolean> {
  for (let i = 0; i < 300; i++) {
    if ((await loadedContext(url, model)) === null) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe('context that fits, on the real small model', { skip: real.skip }, () => {
  const ollama = useOllama(real.gemmaFile === undefined ? { tinyModels: false } : { gemmaFile: real.gemmaFile, tinyModels: false });
  let model: string;
  const providers: OllamaProvider[] = [];
  const make = (extra: ConstructorParameters<typeof OllamaProvider>[0] = {}): OllamaProvider => {
    const p = new OllamaProvider({ baseUrl: ollama.url, env: {}, model, ...extra });
    providers.push(p);
    return p;
  };

  before(() => {
    model = ollama.gemma ?? assert.fail('the server has no real model');
  });
  after(async () => {
    // Other files on a shared server wait for nothing to be loaded: leave the model unloaded.
    if (model !== undefined && providers[0] !== undefined) {
      await providers[0].unload(model);
      await unloaded(ollama.url, model);
    }
    for (const p of providers) await p.close();
  });

  test('a conversation longer than the window is answered with its oldest turns left out, and the metadata says how many', SLOW, async (t) => {
    t.diagnostic(`Ollama ${ollama.version}`);
    const { config } = loadConfig({ env: {}, home: '/nonexistent', cwd: '/', path: undefined });
    config.provider.ollama = { ...config.provider.ollama, enabled: true, baseUrl: ollama.url, model, options: { num_ctx: WINDOW, num_predict: 4, temperature: 0 } };
    config.omega.systemPrompt = 'Answer briefly.';
    const memory = SqliteMemory.open(':memory:');
    const gateway = new Gateway({ config, memory });
    try {
      // Eight remembered turns of about 60 tokens a message: about 1,000 tokens, twice the window.
      for (let i = 0; i < 8; i++) {
        memory.saveExchange({
          conversationId: 'long',
          channel: 'test',
          sender: 'tester',
          user: { role: 'user', content: `Question ${i}: ${'tell me about the sea and the sky '.repeat(6)}` },
          assistant: { role: 'assistant', content: `Answer ${i}: ${'the sea is blue and the sky is wide '.repeat(6)}` },
          metadata: { providerUsed: 'ollama', model, processingTimeMs: 1 },
        });
      }
      const answer = await gateway.handle({ channel: 'test', conversationId: 'long', sender: 'tester', text: 'And the last question?' });
      const m = answer.metadata;
      assert.ok((m.messagesLeftOut ?? 0) >= 2 && m.messagesLeftOut! % 2 === 0, `messagesLeftOut ${m.messagesLeftOut}`);
      assert.equal(m.contextWindow, WINDOW);
      assert.notEqual(m.truncated, true, 'not cut by the server');
      assert.ok((m.promptTokens ?? 0) > 0 && m.promptTokens! < WINDOW, `promptTokens ${m.promptTokens}`);
      assert.ok(m.estimatedPromptTokens! <= WINDOW - 4, `estimate ${m.estimatedPromptTokens}`);
      // The answer's counts are stored with it, from the server.
      const stored = memory.messages('long').at(-1)!;
      assert.deepEqual(stored.tokens, { tokens: m.completionTokens, source: 'server' });
      assert.equal(memory.calibrations().length, 1, 'the estimate was calibrated from the server count');
    } finally {
      await gateway.close();
    }
  });

  test('context: auto raises num_ctx for a prompt and its answer, as /api/ps shows (0.10 on) and the answer says', SLOW, async () => {
    // num_predict is the room kept for the answer; the stop sequence keeps the real answer short.
    const p = make({ context: 'auto', maxContext: 16_384, options: { num_predict: 6000, stop: [' ', '\n'], temperature: 0 } });
    const res = await p.chat({ messages: [{ role: 'user', content: 'The capital of France is' }] });
    assert.equal(res.contextLength, 8192, 'prompt + 6000 rounded up to a step of 4096');
    const loaded = await loadedContext(ollama.url, model);
    if (compareVersions(ollama.version, '0.10.0') >= 0) assert.equal(loaded, 8192, '/api/ps context_length');
    else assert.equal(loaded, undefined, '0.9.6 does not report context_length');
    assert.deepEqual(await p.contextWindowFor(model), { tokens: 8192, limit: 16_384, trained: 32_768, source: 'auto', answerTokens: 6000 });
    // A short prompt afterwards keeps the window: no reload back.
    const again = await p.chat({ messages: [{ role: 'user', content: 'Hi' }], options: { num_predict: 4 } });
    assert.equal(again.contextLength, 8192);
  });

  test('a prompt larger than the cap is context_overflow with the numbers', SLOW, async () => {
    const p = make({ context: 'auto', maxContext: WINDOW, options: { num_predict: 4 } });
    const long = Array.from({ length: 700 }, () => 'apple').join(' ');
    await assert.rejects(p.chat({ messages: [{ role: 'user', content: long }] }), (e: unknown) => {
      assert.ok(isProviderError(e), String(e));
      assert.equal(e.code, 'context_overflow', e.message);
      assert.equal(e.retryable, false);
      assert.equal(e.model, model);
      assert.match(e.message, new RegExp(`^The prompt \\(about [\\d,]+ tokens\\) is longer than the 512-token context window of '${model}'; shorten it, or raise maxContext \\(now 512; the model was trained for 32,768\\)\\.$`));
      if (compareVersions(ollama.version, '0.12.6') >= 0) assert.equal(e.providerMessage, 'the input length exceeds the context length', 'refused by the server');
      else assert.equal(e.providerMessage, undefined, 'refused by Omega before sending: this server would have cut it');
      return true;
    });
  });

  test('with truncate: true asked for, a cut prompt is marked truncated on every version', SLOW, async () => {
    const p = make({ options: { num_ctx: WINDOW, num_predict: 1 } });
    const long = Array.from({ length: 700 }, () => 'apple').join(' ');
    const res = await p.chat({ messages: [{ role: 'user', content: long }], truncate: true });
    assert.ok((res.usage.promptTokens ?? 0) <= WINDOW);
    assert.equal(res.truncated, true);
  });

  test('tools asked of a model without them fail at once as unsupported and load nothing; embeddings are refused by the server', SLOW, async () => {
    const p = make();
    await p.unload(model);
    assert.ok(await unloaded(ollama.url, model), 'unloaded first');
    const tools = [{ type: 'function' as const, function: { name: 'f', description: 'd', parameters: { type: 'object', properties: {} } } }];
    await assert.rejects(p.chat({ messages: [{ role: 'user', content: 'hi' }], tools }), (e: unknown) => {
      assert.ok(isProviderError(e));
      assert.equal(e.code, 'unsupported');
      assert.match(e.message, new RegExp(`^Model '${model}' does not support tools \\(its capabilities: completion\\)`));
      return true;
    });
    assert.equal(await loadedContext(ollama.url, model), null, 'the model was not loaded');
    // Ollama loads the model, then its runner refuses; Omega says so as unsupported, not a retryable 5xx.
    await assert.rejects(p.embed(model, 'hello'), (e: unknown) => {
      assert.ok(isProviderError(e));
      assert.equal(e.code, 'unsupported', e.message);
      assert.match(e.message, new RegExp(`^Model '${model}' cannot make embeddings \\(its capabilities: completion\\)`));
      return true;
    });
    const res = await fetch(`${ollama.url}/api/embed`, { method: 'POST', body: JSON.stringify({ model, input: 'hello' }) });
    const body = (await res.json()) as { error?: string };
    assert.equal(res.status, compareVersions(ollama.version, '0.12.6') >= 0 ? 501 : 500);
    assert.equal(body.error, 'this model does not support embeddings');
  });
});
