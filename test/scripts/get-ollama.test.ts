import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NO_OLLAMA_MESSAGE,
  compareVersions,
  findOnPath,
  getOllama,
  parseOllamaVersionOutput,
  parseVersion,
} from '../../scripts/get-ollama.js';

describe('get-ollama: version parsing', () => {
  test('parseVersion accepts x.y.z with an optional v and suffix', () => {
    assert.deepEqual(parseVersion('0.9.6'), [0, 9, 6]);
    assert.deepEqual(parseVersion('v0.12.3-rc1'), [0, 12, 3]);
    assert.equal(parseVersion('dev'), null);
  });

  test('compareVersions orders numerically, not lexically', () => {
    assert.ok(compareVersions('0.10.0', '0.9.0') > 0);
    assert.ok(compareVersions('0.9.0', '0.9.6') < 0);
    assert.equal(compareVersions('0.9.6', 'v0.9.6'), 0);
    assert.ok(compareVersions('0.0.0', '0.9.0') < 0);
    assert.ok(compareVersions('garbage', '0.0.1') < 0);
  });

  test('the client version wins over the server version in `ollama --version` output', () => {
    assert.equal(parseOllamaVersionOutput('Warning: could not connect to a running Ollama instance\nWarning: client version is 0.9.6\n'), '0.9.6');
    assert.equal(parseOllamaVersionOutput('ollama version is 0.11.4\nWarning: client version is 0.9.6\n'), '0.9.6');
    assert.equal(parseOllamaVersionOutput('ollama version is 0.9.6\n'), '0.9.6');
    assert.equal(parseOllamaVersionOutput('command not found'), null);
  });
});

describe('get-ollama: resolution order', () => {
  let dir: string;
  // Fake binaries answer `--version` the way ollama does without a server.
  const fake = (path: string, version: string): string => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, `#!/bin/sh\necho "Warning: could not connect to a running Ollama instance"\necho "Warning: client version is ${version}"\n`);
    chmodSync(path, 0o755);
    return path;
  };
  const quiet = (): void => {};

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'omega-get-ollama-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('$OLLAMA_BIN comes first', async () => {
    const bin = fake(join(dir, 'env', 'my-ollama'), '0.9.6');
    const onPath = fake(join(dir, 'p1', 'ollama'), '0.10.0');
    const r = await getOllama({ env: { OLLAMA_BIN: bin, PATH: join(dir, 'p1') }, cacheBin: join(dir, 'none'), log: quiet });
    assert.equal(r.source, 'env');
    assert.equal(r.path, bin);
    assert.equal(r.version, '0.9.6');
    assert.notEqual(r.path, onPath);
  });

  test('a bad $OLLAMA_BIN is an error, not a silent fallback', async () => {
    await assert.rejects(getOllama({ env: { OLLAMA_BIN: join(dir, 'missing') }, log: quiet }), /OLLAMA_BIN=.*not an executable/);
  });

  test('PATH is used when its ollama is >= 0.9, otherwise skipped for the cache', async () => {
    const old = fake(join(dir, 'old', 'ollama'), '0.5.7');
    const good = fake(join(dir, 'good', 'ollama'), '0.9.1');
    const cached = fake(join(dir, 'cache', 'bin', 'ollama'), '0.9.6');
    assert.deepEqual(findOnPath({ PATH: `${join(dir, 'old')}:${join(dir, 'good')}` }), [old, good]);

    const fromPath = await getOllama({ env: { PATH: `${join(dir, 'old')}:${join(dir, 'good')}` }, cacheBin: cached, log: quiet });
    assert.deepEqual([fromPath.source, fromPath.path, fromPath.version], ['path', good, '0.9.1']);

    const lines: string[] = [];
    const fromCache = await getOllama({ env: { PATH: join(dir, 'old') }, cacheBin: cached, log: (l) => lines.push(l) });
    assert.deepEqual([fromCache.source, fromCache.path], ['cache', cached]);
    assert.ok(lines.some((l) => l.includes(old) && l.includes('0.5.7')), lines.join('\n'));
  });

  test('without Ollama and without Go the error says how to get one', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty, { recursive: true });
    await assert.rejects(getOllama({ env: { PATH: empty }, cacheBin: join(dir, 'nothing', 'ollama'), log: quiet }), (err: Error) => {
      assert.equal(err.message, NO_OLLAMA_MESSAGE);
      assert.match(err.message, /OLLAMA_BIN/);
      assert.match(err.message, /install Go/);
      return true;
    });
  });
});
