/**
 * `omega models` and `omega status` end to end against a scripted fake Ollama.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closedPort, runCli, startFakeOllama, tempHome, writeConfig, type ScriptedOllama } from './helpers.js';

describe('omega models', () => {
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

  it('prints a table with size, parameters, quantization, context window, capabilities and locality', async () => {
    const r = await runCli(['--config', config, 'models'], { home: home.path });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3, r.stdout);
    const header = (lines[0] ?? '').split(/\s{2,}/);
    assert.deepEqual(header, ['NAME', 'PROVIDER', 'SIZE', 'PARAMETERS', 'QUANTIZATION', 'CONTEXT', 'CAPABILITIES', 'LOCAL']);
    assert.deepEqual((lines[1] ?? '').trim().split(/\s{2,}/), ['tiny:latest', 'ollama', '12 MB', '1.2M', 'F16', '2K', 'chat', 'yes']);
    assert.deepEqual((lines[2] ?? '').trim().split(/\s{2,}/), [
      'tiny-tools:latest',
      'ollama',
      '23 MB',
      '1.2M',
      'Q8_0',
      '4K',
      'chat, tools',
      'yes',
    ]);
  });

  it('--json prints the models and no errors', async () => {
    const r = await runCli(['--config', config, 'models', '--json'], { home: home.path });
    assert.equal(r.code, 0, r.stderr);
    const parsed = JSON.parse(r.stdout) as { models: { name: string; provider: string; contextWindow?: number }[]; errors: unknown[] };
    assert.deepEqual(
      parsed.models.map((m) => [m.name, m.provider, m.contextWindow]),
      [
        ['tiny:latest', 'ollama', 2048],
        ['tiny-tools:latest', 'ollama', 4096],
      ],
    );
    assert.deepEqual(parsed.errors, []);
  });

  it('reports a provider that is down as one line, not a crash (exit 1)', async () => {
    const port = await closedPort();
    const down = writeConfig(home.path, { baseUrl: `http://127.0.0.1:${port}`, name: 'down.toml' });
    const r = await runCli(['--config', down, 'models'], { home: home.path });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^omega: ollama: Ollama not running at .*`ollama serve`/);
  });
});

describe('omega status', () => {
  let fake: ScriptedOllama;
  let home: ReturnType<typeof tempHome>;
  let config: string;

  before(async () => {
    fake = await startFakeOllama();
    fake.running.push({ name: 'tiny:latest', size: 12_345_678, expiresAt: new Date(Date.now() + 10 * 60_000).toISOString() });
    home = tempHome();
    config = writeConfig(home.path, { baseUrl: fake.url });
  });
  after(async () => {
    await fake.close();
    home.remove();
  });

  it('shows the config file, version, model and running models, and exits 0', async () => {
    const r = await runCli(['--config', config, 'status'], { home: home.path });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`config\\s+${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(r.stdout, /ollama \(default\)\s+running, version 0\.9\.6/);
    assert.match(r.stdout, /model\s+tiny \(installed\)/);
    assert.match(r.stdout, /loaded\s+tiny:latest\s+12 MB\s+expires in (9|10) minutes/);
    assert.doesNotMatch(r.stdout, /→/);
  });

  it('--json has the same facts, and `doctor` is the same command', async () => {
    const r = await runCli(['--config', config, 'doctor', '--json'], { home: home.path });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      configFile: string;
      defaultProvider: string;
      providers: { name: string; available: boolean; version?: string; modelInstalled?: boolean; running?: { name: string }[]; problems: unknown[] }[];
    };
    assert.equal(report.ok, true);
    assert.equal(report.configFile, config);
    assert.equal(report.defaultProvider, 'ollama');
    const ollama = report.providers.find((p) => p.name === 'ollama');
    assert.ok(ollama);
    assert.equal(ollama.available, true);
    assert.equal(ollama.version, '0.9.6');
    assert.equal(ollama.modelInstalled, true);
    assert.deepEqual(ollama.running?.map((m) => m.name), ['tiny:latest']);
    assert.deepEqual(ollama.problems, []);
  });

  it('says to pull a default model that is not installed (exit 1)', async () => {
    const missing = writeConfig(home.path, { baseUrl: fake.url, model: 'llama3.2', name: 'missing.toml' });
    const r = await runCli(['--config', missing, 'status'], { home: home.path });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /model\s+llama3\.2 \(not installed\)/);
    assert.match(r.stdout, /→ Run `ollama pull llama3\.2`/);
  });

  it('with Ollama down says to start it and exits 1; zero-config shows "none (defaults)"', async () => {
    const port = await closedPort();
    const empty = tempHome();
    const r = await runCli(['status'], { home: empty.path, env: { OLLAMA_HOST: `127.0.0.1:${port}` } });
    empty.remove();
    assert.equal(r.code, 1);
    assert.match(r.stdout, /config\s+none \(defaults\)/);
    assert.match(r.stdout, new RegExp(`Ollama not running at http://127\\.0\\.0\\.1:${port} \\(from OLLAMA_HOST\\)`));
    assert.match(r.stdout, /→ Start it with `ollama serve`, or fix OLLAMA_HOST/);
  });

  it('never prints an API key, even for a provider it cannot use', async () => {
    const secret = 'sk-ant-api03-THISISNOTAREALKEY1234567890';
    const withKey = writeConfig(home.path, {
      baseUrl: fake.url,
      name: 'keys.toml',
      extra: `[provider.anthropic]\nenabled = true\napi_key = "${secret}"\n`,
    });
    for (const args of [['status'], ['status', '--json'], ['models', '--json'], ['--verbose', 'status']]) {
      const r = await runCli(['--config', withKey, ...args], { home: home.path });
      assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `key printed by ${args.join(' ')}`);
      assert.ok(!r.stdout.includes('THISISNOTAREALKEY') && !r.stderr.includes('THISISNOTAREALKEY'));
    }
  });
});
