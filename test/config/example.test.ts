import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import { KNOWN_CONFIG_KEYS, defaultConfig, loadConfig, parseConfig } from '../../src/config/load.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const examplePath = join(repo, 'config.example.toml');
const example = readFileSync(examplePath, 'utf8');
const docs = readFileSync(join(repo, 'docs', 'configuration.md'), 'utf8');

const home = mkdtempSync(join(tmpdir(), 'omega-example-test-'));
after(() => rmSync(home, { recursive: true, force: true }));

/** The example with every optional `# key = value` line switched on. */
function uncommented(text: string): string {
  return text.replace(/^# ?([a-z_]+ = .*)$/gm, '$1');
}

/**
 * The example as a fleet: base_url removed and the `#: ` lines (the [[provider.ollama.hosts]]
 * example, which cannot sit next to base_url) switched on.
 */
function asFleet(text: string): string {
  return uncommented(text)
    .replace(/^base_url = .*$/m, '')
    .replace(/^#: (.*)$/gm, '$1');
}

/** Dotted paths of every leaf value in a parsed TOML document; an array of tables counts as its tables' keys. */
function leafKeys(node: unknown, prefix: string[] = []): string[] {
  if (Array.isArray(node) && node.length > 0 && node.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date))) {
    return [...new Set(node.flatMap((v) => leafKeys(v, prefix)))];
  }
  if (typeof node !== 'object' || node === null || Array.isArray(node) || node instanceof Date) return [prefix.join('.')];
  return Object.entries(node).flatMap(([key, value]) => leafKeys(value, [...prefix, key]));
}

test('config.example.toml loads cleanly with no warnings', () => {
  const loaded = loadConfig({ path: examplePath, env: {}, home, cwd: home });
  assert.equal(loaded.file, examplePath);
  assert.deepEqual(loaded.warnings, []);
  assert.equal(loaded.config.provider.default, 'ollama');
  assert.equal(loaded.config.provider.ollama.enabled, true);
});

test('config.example.toml states the real defaults', () => {
  const { config } = loadConfig({ path: examplePath, env: {}, home, cwd: home });
  const defaults = defaultConfig({}, { home, cwd: home });
  // The example writes base_url, so only its source differs from zero-config.
  assert.equal(config.provider.ollama.baseUrlSource, 'config');
  assert.deepEqual({ ...config.provider.ollama, baseUrlSource: 'default' }, defaults.provider.ollama);
  assert.deepEqual({ ...config, provider: { ...config.provider, ollama: defaults.provider.ollama } }, defaults);
});

test('every optional line in config.example.toml is valid once uncommented', () => {
  const text = uncommented(example);
  assert.notEqual(text, example, 'the example has optional lines');
  const loaded = parseConfig(text, examplePath, {}, { home });
  assert.deepEqual(loaded.warnings, []);
  assert.equal(loaded.config.provider.ollama.keepAlive, '10m');
  assert.equal(loaded.config.provider.ollama.options.num_ctx, 8192);
});

test('the [[provider.ollama.hosts]] example in config.example.toml is a valid fleet', () => {
  const loaded = parseConfig(asFleet(example), examplePath, {}, { home });
  assert.deepEqual(loaded.warnings, []);
  assert.deepEqual(loaded.config.provider.ollama.hosts, [
    { url: 'http://gpu-box:11434', weight: 2, maxConcurrent: 4, labels: ['gpu'] },
    { url: 'http://localhost:11434', weight: 1, labels: [] },
  ]);
});

test('config.example.toml documents every key Omega knows, and no other', () => {
  const documented = new Set([...leafKeys(parseToml(uncommented(example))), ...leafKeys(parseToml(asFleet(example)))]);
  const known = new Set(KNOWN_CONFIG_KEYS);
  assert.deepEqual([...known].filter((k) => !documented.has(k)), [], 'keys missing from the example');
  assert.deepEqual([...documented].filter((k) => !known.has(k)), [], 'keys in the example that Omega does not know');
});

test('docs/configuration.md documents every table and key', () => {
  for (const key of KNOWN_CONFIG_KEYS) {
    const parts = key.split('.');
    const leaf = parts.pop() ?? '';
    const table = `[${parts.join('.')}]`;
    assert.ok(docs.includes(table), `docs lack the table ${table}`);
    assert.ok(docs.includes(`\`${leaf}\``), `docs lack the key ${key}`);
  }
  for (const name of ['OLLAMA_HOST', 'OMEGA_CONFIG', 'ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'OPENROUTER_API_KEY']) {
    assert.ok(docs.includes(name), `docs lack ${name}`);
  }
});
