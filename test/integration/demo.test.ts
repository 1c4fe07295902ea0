/**
 * `npm run demo` end to end, as a subprocess, with the Ollama binary under test (OLLAMA_BIN) and
 * the real small model: it must start its own server, answer through the gateway, print the
 * metadata line and leave nothing running and nothing in HOME.
 *   node --import tsx --test test/integration/demo.test.ts
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { REPO_ROOT } from '../../scripts/lib/paths.js';
import { getOllama } from '../../scripts/get-ollama.js';
import { SHARED_BIN_ENV, realModelForTests } from '../support/ollama-harness.js';

const real = await realModelForTests();
const SKIP = real.skip;

function runDemo(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'demo.ts'), ...args], { cwd: REPO_ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run demo', { skip: SKIP }, () => {
  test('answers through the gateway with the real model on a private server, then cleans up', { timeout: 600_000, skip: SKIP }, async () => {
    const bin = process.env[SHARED_BIN_ENV] ?? (await getOllama()).path;
    const home = mkdtempSync(join(tmpdir(), 'omega-demo-home-'));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, OLLAMA_BIN: bin, OLLAMA_HOST: '127.0.0.1:9' };
      const run = await runDemo(['Why is the sky blue?'], env);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^A:\s*\S/, run.stdout);
      assert.ok(run.stdout.trim().length > 4, run.stdout);
      assert.match(run.stderr, /tiny BASE model/);
      assert.match(run.stderr, /model omega-gemma \(ollama\) · \d+ prompt \+ \d+ completion tokens · [\d.]+ tokens\/s · stopped by (stop|length)/);
      assert.match(run.stderr, /stored 2 messages and 1 audit record/);
      assert.match(run.stderr, /stopped the private ollama serve/);
      // The private server used its own temp HOME: the caller's HOME stays empty.
      assert.deepEqual(readdirSync(home), []);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
