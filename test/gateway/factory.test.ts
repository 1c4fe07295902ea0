import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/errors.js';
import { buildProvider, enabledProviders } from '../../src/gateway/factory.js';
import { AnthropicProvider } from '../../src/providers/anthropic/index.js';
import { ClaudeCodeProvider } from '../../src/providers/claude-code/index.js';
import { OllamaProvider } from '../../src/providers/ollama/index.js';
import { OpenAIProvider } from '../../src/providers/openai/index.js';
import { OpenRouterProvider } from '../../src/providers/openrouter/index.js';
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

  const SECRET = 'sk-test-factory-secret-0123456789';
  const hosted = [
    { name: 'anthropic', type: AnthropicProvider, env: 'ANTHROPIC_API_KEY' },
    { name: 'openai', type: OpenAIProvider, env: 'OPENAI_API_KEY' },
    { name: 'openrouter', type: OpenRouterProvider, env: 'OPENROUTER_API_KEY' },
  ] as const;
  for (const { name, type, env } of hosted) {
    it(`builds ${name} from [provider.${name}] when it has a key`, async () => {
      const config = testConfig({ enabled: [name] });
      config.provider[name].apiKey = SECRET;
      config.provider[name].apiKeyEnv = env;
      const provider = buildProvider(name, config);
      assert.ok(provider instanceof type);
      assert.equal(provider.name, name);
      assert.equal(provider.requiresApiKey, true);
      await provider.close();
    });

    it(`refuses ${name} without a key, naming the config key, the env variable and the file`, () => {
      const config = testConfig({ enabled: [name] });
      config.provider[name].apiKeyEnv = env;
      assert.throws(
        () => buildProvider(name, config, { configFile: '/etc/omega/config.toml' }),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.file === '/etc/omega/config.toml' &&
          e.key === `provider.${name}.api_key` &&
          e.message.includes(env) &&
          e.message.includes(`provider.${name}.api_key`),
      );
    });
  }

  it('passes OpenRouter attribution from the config through to the provider', async () => {
    const config = testConfig({ enabled: ['openrouter'] });
    config.provider.openrouter = { ...config.provider.openrouter, apiKey: SECRET, appUrl: 'https://example.com/app', appName: 'Omega tests' };
    const provider = buildProvider('openrouter', config);
    assert.ok(provider instanceof OpenRouterProvider);
    assert.equal(provider.appUrl, 'https://example.com/app');
    assert.equal(provider.appName, 'Omega tests');
    await provider.close();
  });

  it('builds the Claude Code provider, which needs no key', () => {
    const provider = buildProvider('claude-code', testConfig({ enabled: ['claude-code'] }));
    assert.ok(provider instanceof ClaudeCodeProvider);
    assert.equal(provider.requiresApiKey, false);
  });

  it('refuses every hosted provider while it is disabled', () => {
    for (const name of ['anthropic', 'openai', 'openrouter', 'claude-code']) {
      assert.throws(
        () => buildProvider(name, testConfig()),
        (e: unknown) => e instanceof ConfigError && e.key === `provider.${name}.enabled` && e.message.includes(`[provider.${name}] enabled = true`),
      );
    }
  });

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
