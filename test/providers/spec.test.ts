/**
 * Provider specs on their own: how each resolves its table and the environment (with the
 * source of each value), and that the unknown-key warnings come from the spec's declared keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import { Reader } from '../../src/config/reader.js';
import { Section } from '../../src/config/section.js';
import { schemaType, warnUnknownKeys } from '../../src/config/schema.js';
import type { KeyType, TableSchema } from '../../src/config/schema.js';
import { ConfigError } from '../../src/core/errors.js';
import { anthropicSpec } from '../../src/providers/anthropic/spec.js';
import { claudeCodeSpec } from '../../src/providers/claude-code/spec.js';
import { ollamaSpec } from '../../src/providers/ollama/spec.js';
import { openaiSpec } from '../../src/providers/openai/spec.js';
import { openrouterSpec } from '../../src/providers/openrouter/spec.js';
import { PROVIDER_SPECS } from '../../src/providers/registry.js';
import type { ProviderSpec } from '../../src/providers/spec.js';

const FILE = '/etc/omega/config.toml';

/** Runs `spec` over `[provider.<name>]` of `text` the way the loader does. */
function resolveIn<O extends { enabled: boolean }>(spec: ProviderSpec<string, O>, text: string, env: NodeJS.ProcessEnv = {}, selected = false) {
  const reader = new Reader(text, FILE, []);
  const section = new Section(reader, [], parseToml(text)).child('provider').child(spec.name);
  warnUnknownKeys(section, spec.keys);
  return { ...spec.resolve(section, env, { selected }), warnings: reader.warnings };
}

test('ollama: base URL sources are default, env (OLLAMA_HOST) and config, in rising precedence', () => {
  const byDefault = resolveIn(ollamaSpec, '');
  assert.equal(byDefault.options.baseUrl, 'http://localhost:11434');
  assert.equal(byDefault.sources.baseUrl, 'default');
  const fromEnv = resolveIn(ollamaSpec, '', { OLLAMA_HOST: 'gpu-box:9000' });
  assert.equal(fromEnv.options.baseUrl, 'http://gpu-box:9000');
  assert.equal(fromEnv.sources.baseUrl, 'env');
  assert.equal(fromEnv.options.baseUrlSource, 'env');
  const fromFile = resolveIn(ollamaSpec, '[provider.ollama]\nbase_url = "gpu-box:9100"\n', { OLLAMA_HOST: 'gpu-box:9000' });
  assert.equal(fromFile.options.baseUrl, 'http://gpu-box:9100');
  assert.equal(fromFile.sources.baseUrl, 'config');
});

test('ollama: enabled follows selection unless the file says; each value records where it came from', () => {
  assert.equal(resolveIn(ollamaSpec, '', {}, true).options.enabled, true);
  assert.equal(resolveIn(ollamaSpec, '', {}, false).options.enabled, false);
  const r = resolveIn(ollamaSpec, '[provider.ollama]\nenabled = false\nmodel = "qwen3"\nkeep_alive = "5m"\n', {}, true);
  assert.equal(r.options.enabled, false);
  assert.equal(r.options.model, 'qwen3');
  assert.equal(r.options.keepAlive, '5m');
  assert.deepEqual(
    { enabled: r.sources.enabled, model: r.sources.model, keepAlive: r.sources.keepAlive, timeouts: r.sources.timeouts },
    { enabled: 'config', model: 'config', keepAlive: 'config', timeouts: 'default' },
  );
});

test('ollama: a bad base_url is refused at its line, naming the key, without repeating credentials', () => {
  const text = '[provider.ollama]\nmodel = "m"\nbase_url = "http://user:hunter2@gpu box:1"\n';
  assert.throws(
    () => resolveIn(ollamaSpec, text),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.key === 'provider.ollama.base_url' &&
      e.file === FILE &&
      e.line === 3 &&
      /http:\/\/ or https:\/\//.test(e.message) &&
      !e.message.includes('hunter2'),
  );
});

test('hosted specs: the API key comes from the file, else the environment, and says which', () => {
  for (const spec of [anthropicSpec, openaiSpec, openrouterSpec]) {
    const env = { [spec.defaults.apiKeyEnv]: 'env-key' };
    const fromEnv = resolveIn(spec, '', env);
    assert.equal(fromEnv.options.apiKey, 'env-key', spec.name);
    assert.equal(fromEnv.sources.apiKey, 'env', spec.name);
    const fromFile = resolveIn(spec, `[provider.${spec.name}]\napi_key = "file-key"\n`, env);
    assert.equal(fromFile.options.apiKey, 'file-key', spec.name);
    assert.equal(fromFile.sources.apiKey, 'config', spec.name);
    const none = resolveIn(spec, '');
    assert.equal(none.options.apiKey, undefined, spec.name);
    assert.equal(none.sources.apiKey, undefined, spec.name);
    assert.equal(none.options.baseUrl, spec.defaults.baseUrl);
    assert.equal(none.sources.baseUrl, 'default');
  }
});

test('hosted specs: max_tokens is a default only where the API needs one', () => {
  const anthropic = resolveIn(anthropicSpec, '');
  assert.equal(anthropic.options.maxTokens, 4096);
  assert.equal(anthropic.sources.maxTokens, 'default');
  assert.equal(resolveIn(openaiSpec, '').options.maxTokens, undefined);
  const set = resolveIn(openaiSpec, '[provider.openai]\nmax_tokens = 300\n');
  assert.equal(set.options.maxTokens, 300);
  assert.equal(set.sources.maxTokens, 'config');
});

test('an enabled hosted provider without a key is a warning naming its variable', () => {
  const { warnings } = resolveIn(openrouterSpec, '[provider.openrouter]\nenabled = true\n');
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]?.key, 'provider.openrouter.api_key');
  assert.match(warnings[0]?.message ?? '', /OPENROUTER_API_KEY/);
});

test('unknown-key warnings come from the spec: OpenRouter knows app_name, OpenAI does not', () => {
  const openrouter = resolveIn(openrouterSpec, '[provider.openrouter]\napp_nmae = "x"\n');
  assert.equal(openrouter.warnings.length, 1);
  assert.equal(openrouter.warnings[0]?.line, 2);
  assert.match(openrouter.warnings[0]?.message ?? '', /did you mean app_name\?/);
  const openai = resolveIn(openaiSpec, '[provider.openai]\napp_name = "x"\n');
  assert.equal(openai.warnings.length, 1);
  assert.match(openai.warnings[0]?.message ?? '', /Unknown key provider\.openai\.app_name/);
  const timeouts = resolveIn(claudeCodeSpec, '[provider.claude-code]\ntimeout_sec = 5\n');
  assert.match(timeouts.warnings[0]?.message ?? '', /did you mean timeout_secs\?/);
});

test('a spec that is not registered gets warnings from its own keys, nested tables included', () => {
  const keys: TableSchema = { enabled: 'boolean', region: 'string', limits: { table: { rpm: 'integer' } } };
  const spec: ProviderSpec<'example', { enabled: boolean }> = {
    name: 'example',
    label: 'Example',
    configSection: 'provider.example',
    env: {},
    secretEnv: [],
    keys,
    resolve: (section) => ({ options: { enabled: section.boolean('enabled', false) }, sources: {} }),
    create: () => {
      throw new Error('not built in this test');
    },
  };
  const { warnings } = resolveIn(spec, '[provider.example]\nregoin = "eu"\n[provider.example.limits]\nrmp = 5\n');
  assert.deepEqual(
    warnings.map((w) => [w.key, w.line]),
    [
      ['provider.example.regoin', 2],
      ['provider.example.limits.rmp', 4],
    ],
  );
  assert.match(warnings[0]?.message ?? '', /did you mean region\?/);
  assert.match(warnings[1]?.message ?? '', /did you mean rpm\?/);
});

/** Whether a value from the example file fits the declared type. */
function fits(type: KeyType, value: unknown): boolean {
  switch (type) {
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
    case 'url':
    case 'path':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
    case 'seconds':
      return typeof value === 'number';
    case 'duration':
      return typeof value === 'string' || typeof value === 'number';
    case 'strings':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
  }
}

test('every provider value in config.example.toml has the type its spec declares', () => {
  const example = readFileSync(fileURLToPath(new URL('../../config.example.toml', import.meta.url)), 'utf8');
  const doc = parseToml(example.replace(/^# ?([a-z_]+ = .*)$/gm, '$1')) as { provider?: Record<string, unknown> };
  let checked = 0;
  const walk = (spec: ProviderSpec, node: unknown, prefix: string[]): void => {
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      const path = [...prefix, key];
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        walk(spec, value, path);
        continue;
      }
      const type = schemaType(spec.keys, path.join('.'));
      assert.ok(type !== undefined, `${spec.configSection}.${path.join('.')} is declared`);
      assert.ok(fits(type, value), `${spec.configSection}.${path.join('.')} = ${JSON.stringify(value)} is ${type}`);
      checked++;
    }
  };
  for (const spec of PROVIDER_SPECS as readonly ProviderSpec[]) walk(spec, doc.provider?.[spec.name] ?? {}, []);
  assert.ok(checked > 20, `checked ${checked} values`);
});
