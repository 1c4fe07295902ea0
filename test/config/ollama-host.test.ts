import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/errors.js';
import { connectableOllamaUrl, DEFAULT_OLLAMA_URL, parseOllamaHost } from '../../src/config/ollama-host.js';

test('DEFAULT_OLLAMA_URL is localhost on 11434', () => {
  assert.equal(DEFAULT_OLLAMA_URL, 'http://localhost:11434');
});

// Ollama's own pinned results (envconfig/config_test.go), plus the forms the issue names.
const cases: Array<[input: string, expected: string]> = [
  ['', 'http://127.0.0.1:11434'],
  ['   ', 'http://127.0.0.1:11434'],
  ['localhost', 'http://localhost:11434'],
  ['example.com', 'http://example.com:11434'],
  ['example.com:8080', 'http://example.com:8080'],
  ['1.2.3.4', 'http://1.2.3.4:11434'],
  ['1.2.3.4:1234', 'http://1.2.3.4:1234'],
  ['http://h', 'http://h:80'],
  ['https://h', 'https://h:443'],
  ['http://1.2.3.4', 'http://1.2.3.4:80'],
  ['https://1.2.3.4', 'https://1.2.3.4:443'],
  ['http://example.com:8080', 'http://example.com:8080'],
  ['0.0.0.0', 'http://0.0.0.0:11434'],
  ['[::1]', 'http://[::1]:11434'],
  ['::1', 'http://[::1]:11434'],
  ['[::1]:8080', 'http://[::1]:8080'],
  // Ollama itself gives the unusable "http://:1234"; like ollama-python we fill in loopback.
  [':1234', 'http://127.0.0.1:1234'],
  // Out-of-range or non-numeric ports fall back to the scheme's default, as in Ollama.
  [':66000', 'http://127.0.0.1:11434'],
  ['example.com:abc', 'http://example.com:11434'],
  ['https://example.com:99999', 'https://example.com:443'],
  // Surrounding spaces and quotes are ignored (a quoted value in a .env file, for example).
  ['"1.2.3.4"', 'http://1.2.3.4:11434'],
  ["'example.com:8080'", 'http://example.com:8080'],
  ['  "https://h"  ', 'https://h:443'],
  // A base path is kept; a trailing slash is not.
  ['https://example.com/ollama', 'https://example.com:443/ollama'],
  ['https://example.com/ollama/', 'https://example.com:443/ollama'],
  ['example.com:8080/api/ollama', 'http://example.com:8080/api/ollama'],
  ['http://h/', 'http://h:80'],
];

for (const [input, expected] of cases) {
  test(`parseOllamaHost(${JSON.stringify(input)}) is ${expected}`, () => {
    assert.equal(parseOllamaHost(input), expected);
  });
}

test('parseOllamaHost results never end in a slash and always parse as URLs', () => {
  for (const [input] of cases) {
    const url = parseOllamaHost(input);
    assert.ok(!url.endsWith('/'), url);
    assert.doesNotThrow(() => new URL(url));
  }
});

test('parseOllamaHost refuses schemes other than http and https', () => {
  assert.throws(
    () => parseOllamaHost('ftp://example.com'),
    (error: unknown) =>
      error instanceof ConfigError && error.key === 'OLLAMA_HOST' && /ftp/.test(error.message) && /http/.test(error.message),
  );
});

test('parseOllamaHost refuses a host that cannot form a URL', () => {
  assert.throws(() => parseOllamaHost('bad host name'), ConfigError);
});

test('connectableOllamaUrl maps wildcard bind addresses to loopback', () => {
  assert.equal(connectableOllamaUrl('http://0.0.0.0:11434'), 'http://127.0.0.1:11434');
  assert.equal(connectableOllamaUrl(parseOllamaHost('0.0.0.0')), 'http://127.0.0.1:11434');
  assert.equal(connectableOllamaUrl('http://[::]:11434'), 'http://[::1]:11434');
  assert.equal(connectableOllamaUrl(parseOllamaHost('::')), 'http://[::1]:11434');
  assert.equal(connectableOllamaUrl('https://0.0.0.0:8443/base/'), 'https://127.0.0.1:8443/base');
});

test('connectableOllamaUrl leaves other URLs alone, minus a trailing slash', () => {
  assert.equal(connectableOllamaUrl('http://localhost:11434'), 'http://localhost:11434');
  assert.equal(connectableOllamaUrl('http://127.0.0.1:11434/'), 'http://127.0.0.1:11434');
  assert.equal(connectableOllamaUrl('https://example.com:443/ollama'), 'https://example.com:443/ollama');
  assert.equal(connectableOllamaUrl('http://[::1]:8080'), 'http://[::1]:8080');
});

test('connectableOllamaUrl rejects a value that is not a URL', () => {
  assert.throws(() => connectableOllamaUrl('not a url'), ConfigError);
});
