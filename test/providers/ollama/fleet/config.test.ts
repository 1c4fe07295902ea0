/**
 * `[[provider.ollama.hosts]]` and `[provider.ollama.fleet]`: what they resolve to, every refusal
 * with its key and line, and what the factory builds from them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../../src/core/errors.js';
import { parseConfig } from '../../../../src/config/load.js';
import { buildProvider } from '../../../../src/gateway/factory.js';
import { OllamaFleet } from '../../../../src/providers/ollama/fleet/fleet.js';
import { OllamaProvider } from '../../../../src/providers/ollama/provider.js';
import { DEFAULT_FLEET_OPTIONS } from '../../../../src/providers/ollama/fleet/types.js';

const FILE = '/tmp/omega-fleet-config.toml';

function load(text: string): ReturnType<typeof parseConfig> {
  return parseConfig(text, FILE, {}, { home: '/tmp' });
}

function refused(text: string, pattern: RegExp, line?: number): ConfigError {
  try {
    load(text);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
    assert.match(error.message, pattern);
    assert.equal(error.file, FILE);
    if (line !== undefined) assert.equal(error.line, line);
    return error;
  }
  assert.fail(`expected a ConfigError matching ${pattern}`);
}

const TWO_HOSTS = `
[provider.ollama]
model = "gemma3:270m"

[[provider.ollama.hosts]]
url = "http://gpu-box:11434/"
weight = 2.5
max_concurrent = 4
labels = ["gpu", " big "]

[[provider.ollama.hosts]]
url = "http://127.0.0.1:11500"

[provider.ollama.fleet]
queue_size = 8
queue_timeout = 1.5
sticky_ttl = 0
`;

test('hosts and fleet knobs resolve with defaults, normalised URLs and trimmed labels', () => {
  const { config, warnings } = load(TWO_HOSTS);
  assert.deepEqual(warnings, []);
  const ollama = config.provider.ollama;
  assert.deepEqual(ollama.hosts, [
    { url: 'http://gpu-box:11434', weight: 2.5, maxConcurrent: 4, labels: ['gpu', 'big'] },
    { url: 'http://127.0.0.1:11500', weight: 1, labels: [] },
  ]);
  assert.equal(ollama.baseUrl, 'http://gpu-box:11434', 'baseUrl is the first host');
  assert.deepEqual(ollama.fleet, { ...DEFAULT_FLEET_OPTIONS, queueSize: 8, queueTimeoutMs: 1500, stickyTtlMs: 0 });
});

test('without hosts the fleet table still resolves to the defaults and no hosts are set', () => {
  const { config } = load('[provider.ollama]\nbase_url = "http://localhost:11434"\n');
  assert.equal(config.provider.ollama.hosts, undefined);
  assert.deepEqual(config.provider.ollama.fleet, DEFAULT_FLEET_OPTIONS);
});

test('the factory builds an OllamaFleet for hosts and the plain provider for one base_url', async () => {
  const fleet = buildProvider('ollama', load(TWO_HOSTS).config);
  assert.ok(fleet instanceof OllamaFleet);
  assert.deepEqual(fleet.hostUrls, ['http://gpu-box:11434', 'http://127.0.0.1:11500']);
  assert.equal(fleet.model, 'gemma3:270m');
  assert.equal(fleet.options.queueSize, 8);
  await fleet.close();
  const one = buildProvider('ollama', load('[provider.ollama]\nbase_url = "http://localhost:11434"\n').config);
  assert.ok(one instanceof OllamaProvider);
  await one.close();
});

test('refusals: base_url with hosts, an empty list, a missing or bad url, a repeated url', () => {
  refused('[provider.ollama]\nbase_url = "http://a:1"\n[[provider.ollama.hosts]]\nurl = "http://b:1"\n', /sets both base_url and \[\[provider\.ollama\.hosts\]\]/, 2);
  refused('[provider.ollama]\nhosts = []\n', /lists no host/);
  refused('[provider.ollama]\nhosts = "http://a:1"\n', /must be an array of tables/);
  refused('[[provider.ollama.hosts]]\nweight = 2\n', /Host 1 of provider\.ollama\.hosts .*has no url/);
  refused('[[provider.ollama.hosts]]\nurl = "ftp://a"\n', /Host 1 .*not an http:\/\/ or https:\/\/ URL/);
  refused('[[provider.ollama.hosts]]\nurl = "http://A:1/"\n[[provider.ollama.hosts]]\nurl = "http://a:1"\n', /Host 2 .*repeats the url http:\/\/a:1 of host 1/);
});

test('refusals: bad weight, max_concurrent and labels name the host and the fix', () => {
  for (const w of ['0', '-1', '1001', '"2"']) {
    refused(`[[provider.ollama.hosts]]\nurl = "http://a:1"\nweight = ${w}\n`, /Host 1 .*weight = .*must be a number above 0 and at most 1000/);
  }
  for (const m of ['0', '1.5', '"4"']) {
    refused(`[[provider.ollama.hosts]]\nurl = "http://a:1"\nmax_concurrent = ${m}\n`, /max_concurrent = .*whole number, 1 or more .*OLLAMA_NUM_PARALLEL/);
  }
  refused('[[provider.ollama.hosts]]\nurl = "http://a:1"\nlabels = "gpu"\n', /labels that are not a list of non-empty strings/);
  refused('[[provider.ollama.hosts]]\nurl = "http://a:1"\nlabels = [""]\n', /labels that are not a list/);
});

test('a URL with credentials is never echoed in a refusal', () => {
  const error = refused('[[provider.ollama.hosts]]\nurl = "gopher://user:s3cretpass@a"\n', /its value/);
  assert.doesNotMatch(error.message, /s3cretpass/);
});

test('fleet knobs: ranges are checked with the key and line', () => {
  refused('[provider.ollama.fleet]\nmax_attempts = 0\n', /provider\.ollama\.fleet\.max_attempts .* is 0, but it must be a whole number, 1 or more/, 2);
  refused('[provider.ollama.fleet]\nqueue_timeout = 0\n', /queue_timeout .* must be a number of seconds above 0/);
  refused('[provider.ollama.fleet]\nprobe_interval = -1\n', /probe_interval/);
  refused('[provider.ollama.fleet]\nqueue_size = 1.5\n', /queue_size/);
});

test('unknown keys in a host entry or the fleet table are warnings with a suggestion', () => {
  const { warnings } = load('[[provider.ollama.hosts]]\nurl = "http://a:1"\nwieght = 2\n[provider.ollama.fleet]\nqueue_sise = 3\n');
  const messages = warnings.map((w) => w.message).join('\n');
  assert.match(messages, /provider\.ollama\.hosts\.wieght .* did you mean weight\?/);
  assert.match(messages, /provider\.ollama\.fleet\.queue_sise .* did you mean queue_size\?/);
});
