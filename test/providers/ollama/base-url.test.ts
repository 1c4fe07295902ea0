/** The one Ollama base-URL resolver, and that the loader and the constructor agree through it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { parseConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/core/errors.js';
import { OllamaProvider } from '../../../src/providers/ollama/index.js';
import { DEFAULT_OLLAMA_URL, resolveOllamaBaseUrl } from '../../../src/providers/ollama/base-url.js';

test('precedence: an explicit value, then OLLAMA_HOST, then the default; blanks count as unset', () => {
  assert.deepEqual(resolveOllamaBaseUrl({ value: 'http://a:1', env: { OLLAMA_HOST: 'b:2' } }), { url: 'http://a:1', source: 'config' });
  assert.deepEqual(resolveOllamaBaseUrl({ value: '  ', env: { OLLAMA_HOST: 'b:2' } }), { url: 'http://b:2', source: 'env' });
  assert.deepEqual(resolveOllamaBaseUrl({ env: { OLLAMA_HOST: ' ' } }), { url: DEFAULT_OLLAMA_URL, source: 'default' });
  assert.deepEqual(resolveOllamaBaseUrl({ env: {} }), { url: DEFAULT_OLLAMA_URL, source: 'default' });
});

test('a URL value is kept as written minus trailing slashes; a bare host[:port] follows OLLAMA_HOST rules', () => {
  assert.equal(resolveOllamaBaseUrl({ value: 'https://example.com/ollama/', env: {} }).url, 'https://example.com/ollama');
  assert.equal(resolveOllamaBaseUrl({ value: 'localhost:8080', env: {} }).url, 'http://localhost:8080');
  assert.equal(resolveOllamaBaseUrl({ value: 'example.com', env: {} }).url, 'http://example.com:11434');
  assert.equal(resolveOllamaBaseUrl({ value: '0.0.0.0', env: {} }).url, 'http://0.0.0.0:11434');
});

test('a bad value is a ConfigError keyed base_url naming the setting; a bad OLLAMA_HOST is keyed OLLAMA_HOST', () => {
  for (const value of ['ftp://h', 'http://', 'file:///x', 'not a url']) {
    assert.throws(
      () => resolveOllamaBaseUrl({ value, env: {} }),
      (e: unknown) => e instanceof ConfigError && e.key === 'provider.ollama.base_url' && e.message.startsWith('baseUrl must be'),
      value,
    );
  }
  assert.throws(
    () => resolveOllamaBaseUrl({ value: 'ftp://h', env: {}, setting: 'provider.ollama.base_url in /x line 2' }),
    (e: unknown) => e instanceof ConfigError && e.message.startsWith('provider.ollama.base_url in /x line 2 must be'),
  );
  assert.throws(
    () => resolveOllamaBaseUrl({ env: { OLLAMA_HOST: 'ftp://h' } }),
    (e: unknown) => e instanceof ConfigError && e.key === 'OLLAMA_HOST',
  );
});

test('config.toml and OllamaProvider accept and refuse the same base_url values, with the same result', async () => {
  const values = ['localhost:11434', 'example.com', '[::1]:9000', 'http://10.0.0.5:11434/', 'https://h/base', 'ftp://h', 'not a url'];
  for (const value of values) {
    let fromConfig: string | undefined;
    let fromCode: string | undefined;
    try {
      const loaded = parseConfig(`[provider.ollama]\nbase_url = "${value}"\n`, '/x/config.toml', {});
      fromConfig = OllamaProvider.fromConfig(loaded.config.provider.ollama).baseUrl;
    } catch (error) {
      assert.ok(error instanceof ConfigError, value);
    }
    try {
      const p = new OllamaProvider({ baseUrl: value, env: {} });
      fromCode = p.baseUrl;
      await p.close();
    } catch (error) {
      assert.ok(error instanceof ConfigError, value);
    }
    assert.equal(fromConfig, fromCode, value);
  }
});

test('a wildcard bind is kept in the config but connected to on loopback', async () => {
  const loaded = parseConfig('', undefined, { OLLAMA_HOST: '0.0.0.0:11434' });
  assert.equal(loaded.config.provider.ollama.baseUrl, 'http://0.0.0.0:11434');
  const p = OllamaProvider.fromConfig(loaded.config.provider.ollama);
  assert.equal(p.baseUrl, 'http://127.0.0.1:11434');
  assert.equal(p.baseUrlSource, 'env');
  await p.close();
});

test('a refused base_url with credentials repeats them nowhere, not even in the error\'s cause', () => {
  for (const value of ['hunter2@bad host', 'http://user:hunter2@bad host:1']) {
    try {
      resolveOllamaBaseUrl({ value, env: {} });
      assert.fail(`${value} was accepted`);
    } catch (error) {
      assert.ok(error instanceof ConfigError, value);
      assert.ok(!inspect(error, { depth: 5 }).includes('hunter2'), inspect(error));
    }
  }
});
