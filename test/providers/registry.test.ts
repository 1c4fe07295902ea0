/** The provider registry: names, lookup, and that everything built on it covers every spec. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KNOWN_CONFIG_KEYS, defaultConfig } from '../../src/config/load.js';
import { PROVIDER_NAMES as CONFIG_PROVIDER_NAMES } from '../../src/config/types.js';
import { schemaKeys } from '../../src/config/schema.js';
import { PROVIDER_NAMES, PROVIDER_SPECS, isProviderName, providerSpec } from '../../src/providers/registry.js';
import type { ProviderSpec } from '../../src/providers/spec.js';

const specs = PROVIDER_SPECS as readonly ProviderSpec[];

test('the registry lists the six providers in status order, and config re-exports the same names', () => {
  assert.deepEqual([...PROVIDER_NAMES], ['ollama', 'anthropic', 'openai', 'openrouter', 'claude-code', 'embedded']);
  assert.deepEqual([...PROVIDER_NAMES], specs.map((s) => s.name));
  assert.equal(CONFIG_PROVIDER_NAMES, PROVIDER_NAMES);
});

test('each spec owns the table named after it and a label for sentences', () => {
  for (const spec of specs) {
    assert.equal(spec.configSection, `provider.${spec.name}`);
    assert.ok(spec.label.trim() !== '' && spec.label !== spec.name, spec.name);
    assert.ok(Object.keys(spec.keys).includes('enabled'), `${spec.name} has an enabled key`);
    for (const name of spec.secretEnv) assert.ok(Object.values(spec.env).includes(name), `${spec.name}: ${name} is one of its env names`);
  }
});

test('providerSpec looks a spec up by name; isProviderName accepts exactly the registered names', () => {
  for (const name of PROVIDER_NAMES) assert.equal(providerSpec(name)?.name, name);
  assert.equal(providerSpec('gemini'), undefined);
  assert.equal(isProviderName('openrouter'), true);
  assert.equal(isProviderName('claude_code'), false);
  assert.equal(isProviderName(''), false);
});

test('KNOWN_CONFIG_KEYS holds every key of every spec, so a new spec needs no loader change', () => {
  const known = new Set(KNOWN_CONFIG_KEYS);
  for (const spec of specs) {
    const keys = schemaKeys(spec.configSection, spec.keys);
    assert.ok(keys.length > 1, spec.name);
    for (const key of keys) assert.ok(known.has(key), key);
  }
  assert.ok(known.has('provider.ollama.timeouts.load'));
  assert.ok(known.has('provider.ollama.options.num_ctx'));
  assert.ok(known.has('provider.openrouter.app_name'));
  assert.ok(!known.has('provider.openai.app_name'), 'attribution keys are OpenRouter only');
});

test('the loaded config has one section per spec, each built by that spec', async () => {
  const config = defaultConfig({ ANTHROPIC_API_KEY: 'k1', OPENAI_API_KEY: 'k2', OPENROUTER_API_KEY: 'k3' }, { home: '/h', cwd: '/c' });
  for (const spec of specs) {
    const options = (config.provider as unknown as Record<string, { enabled: boolean }>)[spec.name];
    assert.ok(options !== undefined, spec.name);
    const provider = spec.create({ ...options, enabled: true });
    assert.equal(provider.name, spec.name);
    await (provider as { close?: () => Promise<void> }).close?.();
  }
});
