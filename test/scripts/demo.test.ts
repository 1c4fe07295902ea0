/**
 * The demo's pure parts: the prompt framing for a base model, the config it builds (nothing
 * inherited from the user's environment or ~/.omega), and the metadata line. The whole demo
 * against real Ollama binaries runs in test/integration/demo.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO_MAX_TOKENS, DEMO_STOP, demoConfig, demoPrompt, metadataLine } from '../../scripts/demo.js';

describe('demo: prompt, config and metadata line', () => {
  test('the question is framed as a Q/A transcript, and the stop sequences end the answer there', () => {
    assert.equal(demoPrompt('  Why is the sky blue? '), 'Q: Why is the sky blue?\nA:');
    assert.deepEqual(DEMO_STOP, ['\nQ:', '\n\n']);
  });

  test('the config points only at the private server and keeps memory in the temp dir, whatever the environment says', () => {
    const saved = { host: process.env.OLLAMA_HOST, key: process.env.ANTHROPIC_API_KEY };
    process.env.OLLAMA_HOST = '10.1.2.3:9999';
    process.env.ANTHROPIC_API_KEY = 'sk-ant-not-used';
    try {
      const config = demoConfig('http://127.0.0.1:41234', '/tmp/omega-demo-x');
      assert.equal(config.provider.default, 'ollama');
      assert.deepEqual(config.provider.fallback, []);
      assert.equal(config.provider.ollama.baseUrl, 'http://127.0.0.1:41234');
      assert.equal(config.provider.ollama.model, 'omega-gemma');
      assert.deepEqual(config.provider.ollama.options, { num_predict: DEMO_MAX_TOKENS, stop: DEMO_STOP, temperature: 0, seed: 7 });
      assert.equal(config.memory.dbPath, '/tmp/omega-demo-x/memory.db');
      assert.equal(config.omega.dataDir, '/tmp/omega-demo-x');
      assert.equal(config.provider.anthropic.enabled, false);
      assert.equal(config.provider.anthropic.apiKey, undefined);
    } finally {
      for (const [k, v] of [['OLLAMA_HOST', saved.host], ['ANTHROPIC_API_KEY', saved.key]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  test('the metadata line gives model, tokens, tokens/s and why it stopped', () => {
    const line = metadataLine({
      providerUsed: 'ollama',
      model: 'omega-gemma',
      processingTimeMs: 2500,
      promptTokens: 9,
      completionTokens: 40,
      doneReason: 'stop',
      timings: { evalMs: 2000 },
    });
    assert.equal(line, 'model omega-gemma (ollama) · 9 prompt + 40 completion tokens · 20.0 tokens/s · stopped by stop · 2.5 s');
    assert.match(metadataLine({ providerUsed: 'ollama', model: 'm', processingTimeMs: 5 }), /tokens\/s unknown/);
  });
});
