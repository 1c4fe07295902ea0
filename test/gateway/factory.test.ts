import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/errors.js';
import { buildProvider, enabledProviders, isImplementedProvider } from '../../src/gateway/factory.js';
import { OllamaProvider } from '../../src/providers/ollama/index.js';
import { testConfig } from './helpers.js';

describe('buildProvider', () => {
  it('builds the Ollama provider from [provider.ollama]', async () => {
    const provider = buildProvider('ollama', testConfig({ ollamaUrl: 'http://127.0.0.1:43210' }));
    assert.ok(provider instanceof OllamaProvider);
    assert.equal(provider.name, 'ollama');
    assert.equal(provider.baseUrl, 'http://127.0.0.1:43210');
    assert.equal(provider.model, 'llama-config');
    await provider.close();
  });

  it('refuses a disabled provider, saying how to enable it and in which file', () => {
    const config = testConfig({ enabled: [] });
    assert.throws(
      () => buildProvider('ollama', config, { configFile: '/etc/omega/config.toml' }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.key === 'provider.ollama.enabled' &&
        e.file === '/etc/omega/config.toml' &&
        e.message.includes('`[provider.ollama] enabled = true`') &&
        e.message.includes('/etc/omega/config.toml'),
    );
    assert.throws(
      () => buildProvider('ollama', config),
      (e: unknown) => e instanceof ConfigError && e.message.includes('[provider.ollama] enabled = true') && e.file === undefined,
    );
  });

  for (const name of ['anthropic', 'openai', 'openrouter', 'claude-code']) {
    it(`says ${name} is not available in this version yet, even when enabled`, () => {
      assert.equal(isImplementedProvider(name), false);
      assert.throws(
        () => buildProvider(name, testConfig({ enabled: ['ollama', 'anthropic', 'openai', 'openrouter', 'claude-code'] })),
        (e: unknown) =>
          e instanceof ConfigError && e.message.includes(`${name} provider is not available in this version`) && e.key === `provider.${name}`,
      );
    });
  }

  it('refuses an unknown name, listing the known ones', () => {
    assert.throws(
      () => buildProvider('gemini', testConfig()),
      (e: unknown) =>
        e instanceof ConfigError && e.message.includes('"gemini"') && e.message.includes('ollama, anthropic, openai, openrouter, claude-code'),
    );
  });
});

describe('enabledProviders', () => {
  it('lists enabled providers in the canonical order', () => {
    assert.deepEqual(enabledProviders(testConfig({ enabled: ['openai', 'ollama'] })), ['ollama', 'openai']);
    assert.deepEqual(enabledProviders(testConfig({ enabled: [] })), []);
  });
});
