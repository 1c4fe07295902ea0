/**
 * node-llama-cpp stays out of Omega's start-up: child processes run with a module hook that
 * makes importing it fail, so any eager import (from `import('omega')`, `omega --version`, or
 * building the provider from config) would crash them. The control case shows the hook does
 * block it: the first request then fails as `unavailable`, naming the package to install.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
const TSX = import.meta.resolve('tsx');

/** A resolve hook that refuses node-llama-cpp, registered before anything else loads. */
const HOOK = `export async function resolve(specifier, context, next) {
  if (specifier === 'node-llama-cpp' || specifier.startsWith('node-llama-cpp/')) throw new Error('BLOCKED: node-llama-cpp was imported');
  return next(specifier, context);
}`;
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOK)}`)});`;

function runBlocked(args: string[], home: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, '--import', TSX, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: home, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('node-llama-cpp is imported lazily', () => {
  const home = mkdtempSync(join(tmpdir(), 'omega-lazy-'));

  test("import('omega') does not load it, and the registry builds the embedded provider without it", () => {
    const script = `
      const omega = await import(${JSON.stringify(join(ROOT, 'src', 'index.ts'))});
      const spec = omega.providerSpec('embedded');
      const provider = spec.create({ enabled: true, modelsDir: ${JSON.stringify(join(home, 'models'))}, gpu: false, keepAliveMs: 0, context: 512, timeouts: { connectMs: 0, loadMs: 1000, idleMs: 1000, requestMs: 0 } });
      console.log(typeof omega.EmbeddedProvider, provider.name);`;
    const r = runBlocked(['--input-type=module', '-e', script], home);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'function embedded');
  });

  test('omega --version does not load it', () => {
    const r = runBlocked([join(ROOT, 'src', 'cli', 'main.ts'), '--version'], home);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+/);
    assert.doesNotMatch(r.stderr, /BLOCKED/);
  });

  test('control: with the package unloadable, the first request is `unavailable` naming the install', () => {
    const script = `
      const { EmbeddedProvider } = await import(${JSON.stringify(join(ROOT, 'src', 'providers', 'embedded', 'index.ts'))});
      const p = new EmbeddedProvider({ modelsDir: ${JSON.stringify(join(home, 'models'))} });
      console.log('available', await p.isAvailable());
      try { await p.listModels(); } catch (e) { console.log(e.code, e.retryable, e.message); }`;
    const r = runBlocked(['--input-type=module', '-e', script], home);
    assert.equal(r.code, 0, r.stderr);
    const [available, failure] = r.stdout.trim().split('\n');
    assert.equal(available, 'available false');
    assert.match(failure ?? '', /^unavailable true .*BLOCKED.*npm install node-llama-cpp@3\.21\.1/);
  });

  after(() => rmSync(home, { recursive: true, force: true }));
});
