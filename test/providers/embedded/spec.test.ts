/**
 * `[provider.embedded]` through the real config loader: the model store's three sources, the
 * keep-alive grammar, `gpu`, threads and context bounds, and that naming it as a fallback
 * enables it. Building the provider from the result loads no model.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigError } from '../../../src/core/errors.js';
import { parseConfig } from '../../../src/config/load.js';
import { embeddedSpec, keepAliveMs } from '../../../src/providers/embedded/index.js';

const HOME = '/home/someone';

function load(toml: string, env: NodeJS.ProcessEnv = {}) {
  return parseConfig(toml, '/etc/omega/config.toml', { HOME, ...env }, { home: HOME });
}

function refused(toml: string, pattern: RegExp): void {
  assert.throws(
    () => load(toml),
    (error: unknown) => error instanceof ConfigError && pattern.test(error.message),
  );
}

describe('[provider.embedded]', () => {
  test('defaults: off unless picked, the store under ~/.ollama/models, CPU only, 5 minutes warm, 4096 tokens', () => {
    const { config } = load('');
    const e = config.provider.embedded;
    assert.equal(e.enabled, false);
    assert.equal(e.modelsDir, join(HOME, '.ollama', 'models'));
    assert.equal(e.gpu, false);
    assert.equal(e.keepAliveMs, 300_000);
    assert.equal(e.context, 4096);
    assert.equal(e.threads, undefined);
    assert.deepEqual(e.timeouts, { connectMs: 0, loadMs: 300_000, idleMs: 60_000, requestMs: 0 });
  });

  test('naming it as a fallback enables it; enabled = false still wins', () => {
    assert.equal(load('[provider]\nfallback = ["embedded"]\n').config.provider.embedded.enabled, true);
    assert.deepEqual(load('[provider]\nfallback = ["embedded"]\n').config.provider.fallback, ['embedded']);
    assert.equal(load('[provider]\nfallback = ["embedded"]\n[provider.embedded]\nenabled = false\n').config.provider.embedded.enabled, false);
  });

  test('the store: models_dir (with ~), else OLLAMA_MODELS, else the default; a relative path is refused', () => {
    assert.equal(load('[provider.embedded]\nmodels_dir = "~/store"\n').config.provider.embedded.modelsDir, join(HOME, 'store'));
    assert.equal(load('[provider.embedded]\nmodels_dir = "/srv/ollama"\n', { OLLAMA_MODELS: '/elsewhere' }).config.provider.embedded.modelsDir, '/srv/ollama');
    assert.equal(load('', { OLLAMA_MODELS: '/data/models' }).config.provider.embedded.modelsDir, '/data/models');
    refused('[provider.embedded]\nmodels_dir = "models"\n', /provider\.embedded\.models_dir .* relative path; write an absolute path/);
  });

  test('gpu, threads, context, keep_alive and timeouts are read and checked', () => {
    const e = load(
      '[provider.embedded]\ngpu = "auto"\nthreads = 2\ncontext = 1024\nkeep_alive = "1h30m"\nmodel = "gemma3:270m"\ntimeouts = { load = 10, idle = 2 }\n',
    ).config.provider.embedded;
    assert.equal(e.gpu, 'auto');
    assert.equal(e.threads, 2);
    assert.equal(e.context, 1024);
    assert.equal(e.keepAliveMs, 5_400_000);
    assert.equal(e.model, 'gemma3:270m');
    assert.equal(e.timeouts.loadMs, 10_000);
    assert.equal(e.timeouts.idleMs, 2_000);
    assert.equal(load('[provider.embedded]\ngpu = false\nkeep_alive = -1\n').config.provider.embedded.gpu, false);
    refused('[provider.embedded]\ngpu = "cuda"\n', /gpu .* write gpu = "auto" or gpu = false/);
    refused('[provider.embedded]\nthreads = 0\n', /threads .* 1 or more/);
    refused('[provider.embedded]\ncontext = 100\n', /context .* 256 or more/);
    refused('[provider.embedded]\nkeep_alive = "soon"\n', /keep_alive .* "soon"; write a duration/);
  });

  test('keep-alive values read as Ollama reads them', () => {
    assert.equal(keepAliveMs('5m'), 300_000);
    assert.equal(keepAliveMs('1h30m'), 5_400_000);
    assert.equal(keepAliveMs('250ms'), 250);
    assert.equal(keepAliveMs(30), 30_000);
    assert.equal(keepAliveMs('0'), 0);
    assert.equal(keepAliveMs('-1s'), -1000);
    assert.equal(keepAliveMs('5 minutes'), undefined);
  });

  test('the spec builds the provider without loading anything', () => {
    const { config } = load('[provider.embedded]\nmodel = "x"\nmodels_dir = "/nowhere"\n');
    const provider = embeddedSpec.create(config.provider.embedded);
    assert.equal(provider.name, 'embedded');
    assert.equal(provider.model, 'x');
    assert.deepEqual(provider.servesModelsOf, ['ollama']);
  });
});
