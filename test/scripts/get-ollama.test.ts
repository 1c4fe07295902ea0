import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NO_OLLAMA_MESSAGE,
  OLLAMA_NEWEST,
  OLLAMA_VERSIONS,
  compareVersions,
  findOnPath,
  getOllama,
  getOllamas,
  missingDebianHeaders,
  needsExtraHeaders,
  ollamaCpuFlags,
  parseOllamaVersionOutput,
  parseVersion,
  requestedVersions,
} from '../../scripts/get-ollama.js';
import { ollamaCacheBin } from '../../scripts/lib/paths.js';

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

describe('get-ollama: which versions', () => {
  test('by default both tested releases, oldest first; 0.17.4 is the newest', () => {
    assert.deepEqual(requestedVersions({}), ['0.9.6', '0.17.4']);
    assert.deepEqual([...OLLAMA_VERSIONS], ['0.9.6', '0.17.4']);
    assert.equal(OLLAMA_NEWEST, '0.17.4');
  });

  test('OMEGA_OLLAMA_VERSIONS chooses, deduplicates and sorts numerically', () => {
    assert.deepEqual(requestedVersions({ OMEGA_OLLAMA_VERSIONS: '0.17.4' }), ['0.17.4']);
    assert.deepEqual(requestedVersions({ OMEGA_OLLAMA_VERSIONS: ' 0.17.4, v0.9.6,0.17.4 ' }), ['0.9.6', '0.17.4']);
    assert.deepEqual(requestedVersions({ OMEGA_OLLAMA_VERSIONS: '' }), ['0.9.6', '0.17.4']);
  });

  test('a malformed or too old version is an error naming the variable', () => {
    assert.throws(() => requestedVersions({ OMEGA_OLLAMA_VERSIONS: '0.17' }), /OMEGA_OLLAMA_VERSIONS=0.17 has "0.17", which is not a version/);
    assert.throws(() => requestedVersions({ OMEGA_OLLAMA_VERSIONS: 'latest' }), /OMEGA_OLLAMA_VERSIONS/);
    assert.throws(() => requestedVersions({ OMEGA_OLLAMA_VERSIONS: '0.5.7' }), /older than the oldest supported Ollama 0.9.0/);
    assert.throws(() => requestedVersions({ OMEGA_OLLAMA_VERSIONS: ' , ' }), /lists no version/);
  });

  test('only releases after 0.9.6 need the headers that Go module zips leave out', () => {
    assert.equal(needsExtraHeaders('0.9.6'), false);
    assert.equal(needsExtraHeaders('0.17.4'), true);
    assert.equal(needsExtraHeaders('0.12.6'), true);
  });

  test('missingDebianHeaders names the Debian package of each header it cannot find', () => {
    const dir = mkdtempSync(join(tmpdir(), 'omega-headers-'));
    try {
      assert.deepEqual(
        missingDebianHeaders({}, [dir]).map((m) => `${m.header}:${m.pkg}`),
        ['nlohmann/json.hpp:nlohmann-json3-dev', 'nlohmann/json_fwd.hpp:nlohmann-json3-dev', 'stb/stb_image.h:libstb-dev'],
      );
      mkdirSync(join(dir, 'stb'));
      writeFileSync(join(dir, 'stb', 'stb_image.h'), '');
      assert.deepEqual(missingDebianHeaders({}, [dir]).map((m) => m.pkg), ['nlohmann-json3-dev', 'nlohmann-json3-dev']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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

  test('$OLLAMA_BIN comes first, alone, whatever OMEGA_OLLAMA_VERSIONS says', async () => {
    const bin = fake(join(dir, 'env', 'my-ollama'), '0.9.6');
    fake(join(dir, 'p1', 'ollama'), '0.10.0');
    const env = { OLLAMA_BIN: bin, PATH: join(dir, 'p1'), OMEGA_OLLAMA_VERSIONS: '0.9.6,0.17.4' };
    const all = await getOllamas({ env, cacheDir: join(dir, 'none'), log: quiet });
    assert.deepEqual(all.map((b) => [b.source, b.path, b.version]), [['env', bin, '0.9.6']]);
    const one = await getOllama({ env, cacheDir: join(dir, 'none'), log: quiet });
    assert.deepEqual([one.source, one.path], ['env', bin]);
  });

  test('a bad $OLLAMA_BIN is an error, not a silent fallback', async () => {
    await assert.rejects(getOllamas({ env: { OLLAMA_BIN: join(dir, 'missing') }, log: quiet }), /OLLAMA_BIN=.*not an executable/);
  });

  test('without OMEGA_OLLAMA_VERSIONS a PATH ollama >= 0.9 is the one version; an older one is skipped', async () => {
    const old = fake(join(dir, 'old', 'ollama'), '0.5.7');
    const good = fake(join(dir, 'good', 'ollama'), '0.9.1');
    assert.deepEqual(findOnPath({ PATH: `${join(dir, 'old')}:${join(dir, 'good')}` }), [old, good]);
    const lines: string[] = [];
    const all = await getOllamas({ env: { PATH: `${join(dir, 'old')}:${join(dir, 'good')}` }, cacheDir: join(dir, 'none'), log: (l) => lines.push(l) });
    assert.deepEqual(all.map((b) => [b.source, b.path, b.version]), [['path', good, '0.9.1']]);
    assert.ok(lines.some((l) => l.includes(old) && l.includes('0.5.7')), lines.join('\n'));
  });

  test('with OMEGA_OLLAMA_VERSIONS each version comes from PATH when it matches exactly, else from the cache', async () => {
    const cacheDir = join(dir, 'cache');
    const onPath = fake(join(dir, 'p096', 'ollama'), '0.9.6');
    const cached = fake(ollamaCacheBin('0.17.4', cacheDir), '0.17.4');
    assert.equal(cached, join(cacheDir, 'ollama', '0.17.4', 'bin', 'ollama'));
    const all = await getOllamas({ env: { PATH: join(dir, 'p096'), OMEGA_OLLAMA_VERSIONS: '0.17.4,0.9.6' }, cacheDir, log: quiet });
    assert.deepEqual(all.map((b) => [b.source, b.path, b.version]), [
      ['path', onPath, '0.9.6'],
      ['cache', cached, '0.17.4'],
    ]);
    // getOllama() is the newest requested version.
    const one = await getOllama({ env: { PATH: join(dir, 'p096'), OMEGA_OLLAMA_VERSIONS: '0.9.6,0.17.4' }, cacheDir, log: quiet });
    assert.deepEqual([one.source, one.version], ['cache', '0.17.4']);
    const pinned = await getOllama({ env: { PATH: join(dir, 'p096') }, version: '0.17.4', cacheDir, log: quiet });
    assert.deepEqual([pinned.source, pinned.path], ['cache', cached]);
  });

  test('a binary in the old single-version cache is moved into the per-version layout', async () => {
    const cacheDir = join(dir, 'legacy');
    const legacy = fake(join(cacheDir, 'ollama', 'bin', 'ollama'), '0.9.6');
    const lines: string[] = [];
    const all = await getOllamas({ env: { PATH: join(dir, 'nowhere'), OMEGA_OLLAMA_VERSIONS: '0.9.6' }, cacheDir, log: (l) => lines.push(l) });
    assert.deepEqual(all.map((b) => [b.source, b.path]), [['cache', ollamaCacheBin('0.9.6', cacheDir)]]);
    assert.equal(existsSync(legacy), false);
    assert.ok(lines.some((l) => l.includes('moved')), lines.join('\n'));
  });

  test('a cached binary built with other C flags than this CPU gets is rebuilt, not used', async () => {
    const cacheDir = join(dir, 'flags');
    const cached = fake(ollamaCacheBin('0.17.4', cacheDir), '0.17.4');
    writeFileSync(`${cached}.cflags`, 'some-other-flags\n');
    const lines: string[] = [];
    const empty = join(dir, 'empty-flags');
    mkdirSync(empty, { recursive: true });
    // No Go on PATH: the rebuild it decides on fails with the "how to get Ollama" error.
    await assert.rejects(
      getOllamas({ env: { PATH: empty, OMEGA_OLLAMA_VERSIONS: '0.17.4' }, cacheDir, log: (l) => lines.push(l) }),
      (err: Error) => err.message === NO_OLLAMA_MESSAGE,
    );
    assert.ok(lines.some((l) => l.includes('was built with C flags "some-other-flags"')), lines.join('\n'));
  });

  test('the CPU flags: x86-64-v3 when the CPU has every feature of that level, else Go\'s defaults', () => {
    const v3 = 'flags\t\t: fpu sse2 avx avx2 bmi1 bmi2 f16c fma abm movbe xsave amx_tile\n';
    const old = 'flags\t\t: fpu sse2 avx\n';
    if (process.arch === 'x64') assert.equal(ollamaCpuFlags({}, v3), '-O3 -march=x86-64-v3');
    assert.equal(ollamaCpuFlags({}, old), undefined);
    assert.equal(ollamaCpuFlags({ CGO_CFLAGS: '-O2' }, v3), undefined, "the caller's own flags win");
    assert.equal(ollamaCpuFlags({}, 'no flags line'), undefined);
  });

  test('without Ollama and without Go the error says how to get one', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty, { recursive: true });
    await assert.rejects(getOllamas({ env: { PATH: empty }, cacheDir: join(dir, 'nothing'), log: quiet }), (err: Error) => {
      assert.equal(err.message, NO_OLLAMA_MESSAGE);
      assert.match(err.message, /OLLAMA_BIN/);
      assert.match(err.message, /install Go/);
      return true;
    });
  });
});
