import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import { loadConfig } from '../../src/config/load.js';
import { buildProvider } from '../../src/gateway/factory.js';
import { OllamaProvider } from '../../src/providers/ollama/index.js';

const dir = mkdtempSync(join(tmpdir(), 'omega-context-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function load(toml: string) {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(path, toml);
  return loadConfig({ path, env: {}, home: dir, cwd: dir });
}

describe('context keys', () => {
  test('defaults: the server chooses num_ctx, auto would cap at 32768, 1024 tokens kept for the answer', () => {
    const { config } = load('[provider.ollama]\nenabled = true\n');
    assert.equal(config.provider.ollama.context, 'server');
    assert.equal(config.provider.ollama.maxContext, 32_768);
    assert.equal(config.memory.answerReserve, 1024);
  });

  test('context = "auto" with max_context reaches the provider, and answer_reserve the gateway', async () => {
    const { config } = load('[provider.ollama]\nenabled = true\ncontext = "auto"\nmax_context = 16384\n[memory]\nanswer_reserve = 256\n');
    assert.equal(config.provider.ollama.context, 'auto');
    assert.equal(config.provider.ollama.maxContext, 16_384);
    assert.equal(config.memory.answerReserve, 256);
    const provider = buildProvider('ollama', config, {});
    assert.ok(provider instanceof OllamaProvider);
    await provider.close();
  });

  test('bad values are ConfigErrors naming the key and what it takes', () => {
    assert.throws(
      () => load('[provider.ollama]\ncontext = "big"\n'),
      (e: unknown) => e instanceof ConfigError && /provider\.ollama\.context/.test(e.message) && /auto/.test(e.message) && /server/.test(e.message),
    );
    assert.throws(
      () => load('[provider.ollama]\nmax_context = 100\n'),
      (e: unknown) => e instanceof ConfigError && /max_context/.test(e.message) && /256 or more/.test(e.message),
    );
    assert.throws(
      () => load('[memory]\nanswer_reserve = -1\n'),
      (e: unknown) => e instanceof ConfigError && /answer_reserve/.test(e.message),
    );
  });
});
