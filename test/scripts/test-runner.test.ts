import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addCounts, listTestFiles, parseArgs, selectFiles, summaryCounts, versionLine } from '../../scripts/test.js';
import { REPO_ROOT } from '../../scripts/lib/paths.js';

describe('scripts/test.ts: choosing files', () => {
  test('listTestFiles finds *.test.ts recursively, sorted, skipping dot dirs and other files', () => {
    const root = mkdtempSync(join(tmpdir(), 'omega-runner-'));
    try {
      for (const f of ['test/b.test.ts', 'test/a/x.test.ts', 'test/integration/o.test.ts', 'test/support/h.ts', 'test/.hidden/z.test.ts', 'test/c.test.js']) {
        mkdirSync(join(root, f, '..'), { recursive: true });
        writeFileSync(join(root, f), '');
      }
      assert.deepEqual(listTestFiles(root), ['test/a/x.test.ts', 'test/b.test.ts', 'test/integration/o.test.ts']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('this repository has integration and unit tests to run', () => {
    const files = listTestFiles();
    assert.ok(files.includes('test/integration/ollama.test.ts'));
    assert.ok(files.includes('test/scripts/gguf.test.ts'));
  });

  const all = ['test/a.test.ts', 'test/providers/ollama/x.test.ts', 'test/integration/ollama.test.ts', 'test/integration/cli.test.ts'];

  test('--unit drops test/integration, --integration keeps only it', () => {
    assert.deepEqual(selectFiles(all, parseArgs(['--unit'])), ['test/a.test.ts', 'test/providers/ollama/x.test.ts']);
    assert.deepEqual(selectFiles(all, parseArgs(['--integration'])), ['test/integration/ollama.test.ts', 'test/integration/cli.test.ts']);
    assert.deepEqual(selectFiles(all, parseArgs([])), all);
  });

  test('filters: substrings of paths, or existing files and directories', () => {
    assert.deepEqual(selectFiles(all, parseArgs(['ollama'])), ['test/providers/ollama/x.test.ts', 'test/integration/ollama.test.ts']);
    assert.deepEqual(selectFiles(all, parseArgs(['--unit', 'ollama'])), ['test/providers/ollama/x.test.ts']);
    const real = listTestFiles();
    assert.deepEqual(selectFiles(real, parseArgs([join(REPO_ROOT, 'test', 'scripts', 'gguf.test.ts')])), ['test/scripts/gguf.test.ts']);
    const inDir = selectFiles(real, parseArgs([join(REPO_ROOT, 'test', 'integration')]));
    assert.ok(inDir.length > 0 && inDir.every((f) => f.startsWith('test/integration/')));
  });

  test('node --test-* flags pass through; unknown options are errors', () => {
    assert.deepEqual(parseArgs(['--test-name-pattern=abort', 'x']), { mode: 'all', filters: ['x'], nodeFlags: ['--test-name-pattern=abort'] });
    assert.throws(() => parseArgs(['--bogus']), /unknown option --bogus/);
  });
});

describe('scripts/test.ts: the closing line', () => {
  test('summaryCounts reads the last TAP or spec summary, counting cancelled tests as failed', () => {
    const tap = '# Subtest: x\nok 1 - x\n# tests 7\n# pass 5\n# fail 1\n# cancelled 1\n# skipped 2\n';
    assert.deepEqual(summaryCounts(tap), { pass: 5, fail: 2, skipped: 2 });
    const spec = 'ℹ tests 3\nℹ pass 3\nℹ fail 0\nℹ skipped 0\n';
    assert.deepEqual(summaryCounts(spec), { pass: 3, fail: 0, skipped: 0 });
    // A test named "# pass 9" inside the output must not win over the real summary at the end.
    assert.deepEqual(summaryCounts(`# pass 9\n# fail 9\n${tap}`), { pass: 5, fail: 2, skipped: 2 });
    assert.equal(summaryCounts('no summary here\n'), undefined);
  });
});

describe('scripts/test.ts: one run per Ollama version', () => {
  test('addCounts sums the runs; a run without a summary counts as a failure', () => {
    const a = addCounts({ pass: 0, fail: 0, skipped: 0 }, { pass: 5, fail: 1, skipped: 2 });
    assert.deepEqual(addCounts(a, { pass: 3, fail: 0, skipped: 1 }), { pass: 8, fail: 1, skipped: 3 });
    assert.deepEqual(addCounts(a, undefined), { pass: 5, fail: 2, skipped: 2 });
  });

  test('the per-version line names the version and is not shaped like the closing line', () => {
    const line = versionLine('0.17.4', { pass: 30, fail: 0, skipped: 1 }, 65_000, 4_200);
    assert.equal(line, '[ollama 0.17.4] integration 30 pass / 0 fail / 1 skipped; tests 1m05s, server start and model import 4.2 s');
    assert.doesNotMatch(line, /\d+ passed, \d+ failed/);
    assert.match(versionLine('0.9.6', undefined, 0, 10), /no summary/);
  });
});
