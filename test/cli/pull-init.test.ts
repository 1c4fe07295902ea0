/**
 * `omega pull` and `omega init` end to end.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, closedPort, runCli, startFakeOllama, tempHome, writeConfig, type ScriptedOllama } from './helpers.js';

describe('omega pull', () => {
  let fake: ScriptedOllama;
  let home: ReturnType<typeof tempHome>;
  let config: string;

  before(async () => {
    fake = await startFakeOllama();
    home = tempHome();
    config = writeConfig(home.path, { baseUrl: fake.url });
  });
  after(async () => {
    await fake.close();
    home.remove();
  });

  it('shows status lines and per-layer progress (plain lines when not a terminal) and exits 0', async () => {
    const r = await runCli(['--config', config, 'pull', 'tiny-remote'], { home: home.path });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines[0], 'pulling manifest');
    assert.ok(lines.includes('pulling cccccccccccc: 100% (1.0 MB/1.0 MB)'), r.stderr);
    assert.deepEqual(lines.slice(-3), ['verifying sha256 digest', 'writing manifest', 'success']);
    assert.ok(!r.stderr.includes('\u001b['), 'no escape codes when not a terminal');
    const pull = fake.requests.find((x) => x.path === '/api/pull');
    assert.equal((pull?.body as { model?: string }).model, 'tiny-remote');
  });

  it('says clearly that an unknown model does not exist and exits 1', async () => {
    const r = await runCli(['--config', config, 'pull', 'no-such-model'], { home: home.path });
    assert.equal(r.code, 1);
    const last = r.stderr.trimEnd().split('\n').at(-1) ?? '';
    assert.match(last, /^omega: Model .no-such-model. does not exist in the registry/);
    assert.match(last, /ollama\.com\/library/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  it('says to start Ollama when it is down (exit 1)', async () => {
    const port = await closedPort();
    const down = writeConfig(home.path, { baseUrl: `http://127.0.0.1:${port}`, name: 'down.toml' });
    const r = await runCli(['--config', down, 'pull', 'tiny-remote'], { home: home.path });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^omega: Ollama not running at .*`ollama serve`/m);
  });

  it('needs a model name (usage error, exit 2)', async () => {
    const r = await runCli(['--config', config, 'pull'], { home: home.path });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^omega: missing required argument 'model'/);
  });
});

describe('omega init', () => {
  const example = readFileSync(join(ROOT, 'config.example.toml'), 'utf8');

  it('writes ~/.omega/config.toml from the example and prints the path and next steps', async () => {
    const home = tempHome();
    try {
      const r = await runCli(['init'], { home: home.path });
      assert.equal(r.code, 0, r.stderr);
      const target = join(home.path, '.omega', 'config.toml');
      assert.equal(readFileSync(target, 'utf8'), example);
      assert.equal(statSync(target).mode & 0o077, 0, 'only the owner can read it (it may hold API keys)');
      assert.match(r.stdout, new RegExp(`^Wrote ${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
      assert.match(r.stdout, /omega status/);

      // The file it wrote is a valid config.
      const status = await runCli(['status', '--json'], { home: home.path });
      assert.equal((JSON.parse(status.stdout) as { configFile: string }).configFile, target);
    } finally {
      home.remove();
    }
  });

  it('refuses to overwrite an existing file without --force, and overwrites with it', async () => {
    const home = tempHome();
    try {
      const target = join(home.path, '.omega', 'config.toml');
      mkdirSync(join(home.path, '.omega'));
      // Not even valid TOML: init must not need a working config to repair one.
      writeFileSync(target, 'my [own settings\n');
      const refused = await runCli(['init'], { home: home.path });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^omega: .*config\.toml already exists; not overwriting it\. Pass --force/);
      assert.equal(readFileSync(target, 'utf8'), 'my [own settings\n');

      const forced = await runCli(['init', '--force'], { home: home.path });
      assert.equal(forced.code, 0, forced.stderr);
      assert.equal(readFileSync(target, 'utf8'), example);
    } finally {
      home.remove();
    }
  });

  it('--path writes elsewhere, creating directories, and says how Omega will find it', async () => {
    const home = tempHome();
    try {
      const r = await runCli(['init', '--path', 'conf/omega.toml'], { home: home.path });
      assert.equal(r.code, 0, r.stderr);
      const target = join(home.path, 'conf', 'omega.toml');
      assert.equal(readFileSync(target, 'utf8'), example);
      assert.equal(existsSync(join(home.path, '.omega', 'config.toml')), false);
      assert.match(r.stdout, /--config .*omega\.toml|OMEGA_CONFIG/);
    } finally {
      home.remove();
    }
  });
});
