import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfigError,
  MemoryError,
  OmegaError,
  PROVIDER_ERROR_CODES,
  ProviderError,
  UsageError,
  isOmegaError,
  isProviderError,
  isRetryableCode,
  redactSecrets,
  type ProviderErrorCode,
} from '../../src/index.js';

/** Which codes another attempt (or another provider) may cure: the gateway's fallback rule. */
const EXPECTED_RETRYABLE: Record<ProviderErrorCode, boolean> = {
  unavailable: true,
  model_not_found: false,
  unsupported: false,
  bad_request: false,
  auth: false,
  rate_limited: true,
  busy: true,
  server_error: true,
  timeout: true,
  aborted: false,
  protocol: false,
  connection_lost: true,
  context_overflow: false,
};

describe('ProviderError', () => {
  it('lists exactly the thirteen codes of the contract', () => {
    assert.deepEqual([...PROVIDER_ERROR_CODES].sort(), Object.keys(EXPECTED_RETRYABLE).sort());
  });

  for (const code of PROVIDER_ERROR_CODES) {
    it(`has the full shape for code ${code}`, () => {
      const cause = new Error('socket hang up');
      const error = new ProviderError({ provider: 'ollama', code, message: `Something (${code}) went wrong.`, status: 500, hint: 'Try again.', cause });
      assert.ok(error instanceof Error);
      assert.ok(error instanceof OmegaError);
      assert.equal(error.name, 'ProviderError');
      assert.equal(error.kind, 'provider');
      assert.equal(error.provider, 'ollama');
      assert.equal(error.code, code);
      assert.equal(error.status, 500);
      assert.equal(error.hint, 'Try again.');
      assert.equal(error.cause, cause);
      assert.equal(error.message, `Something (${code}) went wrong.`);
      assert.equal(error.retryable, EXPECTED_RETRYABLE[code]);
      assert.equal(isRetryableCode(code), EXPECTED_RETRYABLE[code]);
      assert.equal(isProviderError(error), true);
      assert.equal(isProviderError(error, code), true);
      assert.equal(isOmegaError(error), true);
    });
  }

  it('lets a provider override retryability and carry timeout, partial-text and retry-after details', () => {
    const error = new ProviderError({
      provider: 'openai',
      code: 'timeout',
      message: 'Timed out.',
      retryable: false,
      phase: 'idle',
      partialText: 'Once upon',
      retryAfterMs: 1500,
      providerMessage: 'upstream said no',
    });
    assert.equal(error.retryable, false);
    assert.equal(error.phase, 'idle');
    assert.equal(error.partialText, 'Once upon');
    assert.equal(error.retryAfterMs, 1500);
    assert.equal(error.providerMessage, 'upstream said no');
    assert.equal(error.status, undefined);
    assert.equal(isProviderError(error, 'aborted'), false);
    assert.equal(isProviderError(new Error('x')), false);
  });
});

describe('the other errors', () => {
  it('ConfigError names the file, key, line and what was expected', () => {
    const error = new ConfigError({
      message: 'provider.ollama.base_url must be an http(s) URL.',
      file: '/home/me/.omega/config.toml',
      key: 'provider.ollama.base_url',
      line: 7,
      column: 12,
      expected: 'an http or https URL',
    });
    assert.equal(error.kind, 'config');
    assert.equal(error.name, 'ConfigError');
    assert.deepEqual([error.file, error.key, error.line, error.column, error.expected], [
      '/home/me/.omega/config.toml',
      'provider.ollama.base_url',
      7,
      12,
      'an http or https URL',
    ]);
    assert.equal(new ConfigError({ message: 'x' }).line, undefined);
  });

  it('MemoryError names the database file and says why', () => {
    const error = new MemoryError({ code: 'readonly', file: '/data/memory.db', message: 'The memory database /data/memory.db is read-only.' });
    assert.equal(error.kind, 'memory');
    assert.equal(error.code, 'readonly');
    assert.equal(error.file, '/data/memory.db');
    assert.ok(error instanceof OmegaError);
  });

  it('UsageError is a usage-kind OmegaError', () => {
    const error = new UsageError('Give a prompt or pipe one on stdin.', { hint: 'omega ask "..."' });
    assert.equal(error.kind, 'usage');
    assert.equal(error.name, 'UsageError');
    assert.equal(error.hint, 'omega ask "..."');
    assert.equal(isOmegaError(new Error('plain')), false);
  });
});

describe('redactSecrets', () => {
  it('removes a known secret wherever it appears', () => {
    const key = 'my-very-private-key-123';
    const out = redactSecrets(`request with ${key} failed; retry with ${key}`, [key]);
    assert.equal(out.includes(key), false);
    assert.equal(out, 'request with [REDACTED] failed; retry with [REDACTED]');
  });

  it('removes bearer tokens and sk- style keys even when they were not named', () => {
    const text = 'Authorization: Bearer abcdefghijklmnop1234 and key sk-ant-api03-ABCDEFGHIJKLMNOP and sk-or-v1-0123456789abcdef';
    const out = redactSecrets(text);
    assert.equal(out.includes('abcdefghijklmnop1234'), false);
    assert.equal(out.includes('ABCDEFGHIJKLMNOP'), false);
    assert.equal(out.includes('0123456789abcdef'), false);
    assert.match(out, /Bearer \[REDACTED\]/);
  });

  it('leaves ordinary text and too-short "secrets" alone', () => {
    assert.equal(redactSecrets('Ollama not running at http://localhost:11434.', ['', undefined, 'ab']), 'Ollama not running at http://localhost:11434.');
  });
});
