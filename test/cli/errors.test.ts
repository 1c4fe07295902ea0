/**
 * Global behaviour: bad config, usage errors, exit codes, --verbose, colour, help and version.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, runCli, startFakeOllama, tempHome, writeConfig, type ScriptedOllama } from './helpers.js';

// eslint-disable-next-line no-control-regex
const ESC = /\u001b\[/;

describe('omega with a bad config', () => {
  let home: ReturnType<typeof tempHome>;
  before(() => {
    home = tempHome();
  });
  after(() => home.remove());

  it('reports a TOML syntax error with file and line before doing anything (exit 2)', async () => {
    const file = join(home.path, 'syntax.toml');
    writeFileSync(file, '[provider.ollama]\nenabled = true\nmodel = "llama3\n');
    for (const command of [['status'], ['models'], ['ask', 'hello'], ['pull', 'x']]) {
      const r = await runCli(['--config', file, ...command], { home: home.path });
      assert.equal(r.code, 2, `${command.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^omega: /);
      assert.ok(r.stderr.includes(file), `names the file: ${r.stderr}`);
      assert.match(r.stderr, /line 3|:3\b/, `names the line: ${r.stderr}`);
    }
  });

  it('names the key of a value of the wrong type (exit 2)', async () => {
    const file = join(home.path, 'type.toml');
    writeFileSync(file, '[provider.ollama]\nenabled = true\nmodel = 5\n');
    const r = await runCli(['--config', file, 'status'], { home: home.path });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /provider\.ollama\.model/);
    assert.ok(r.stderr.includes(file));
    assert.match(r.stderr, /line 3|:3\b/, `names the line: ${r.stderr}`);
  });

  it('a missing --config file is exit 2', async () => {
    const r = await runCli(['--config', join(home.path, 'nope.toml'), 'status'], { home: home.path });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^omega: .*nope\.toml/);
  });

  it('shows a stack only with --verbose', async () => {
    const file = join(home.path, 'syntax.toml');
    const quiet = await runCli(['--config', file, 'status'], { home: home.path });
    assert.doesNotMatch(quiet.stderr, /\n\s+at /);
    const verbose = await runCli(['--verbose', '--config', file, 'status'], { home: home.path });
    assert.equal(verbose.code, 2);
    assert.match(verbose.stderr, /^omega: /);
    assert.match(verbose.stderr, /\n\s+at /);
  });
});

describe('omega warnings, usage errors, colour, help', () => {
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

  it('prints an unknown-key warning once, on stderr, and carries on', async () => {
    const file = writeConfig(home.path, { baseUrl: fake.url, name: 'unknown.toml', extra: '[omega]\ncolour = "blue"\n' });
    const r = await runCli(['--config', file, 'ask', 'Hi'], { home: home.path });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'The sky is blue because of Rayleigh scattering.\n');
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('omega: warning:'));
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(warnings[0] ?? '', /omega\.colour/);
  });

  for (const [args, pattern] of [
    [['frobnicate'], /^omega: unknown command 'frobnicate'/],
    [['ask', '--bogus', 'x'], /^omega: unknown option '--bogus'/],
    [['models', 'extra'], /^omega: too many arguments/],
  ] as const) {
    it(`\`omega ${args.join(' ')}\` is a usage error: one line, exit 2`, async () => {
      const r = await runCli(['--config', config, ...args], { home: home.path });
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, pattern);
    });
  }

  it('`--provider` naming a provider that does not exist is exit 2', async () => {
    const r = await runCli(['--config', config, 'ask', '--provider', 'nope', 'Hi'], { home: home.path });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^omega: Unknown provider "nope"/);
  });

  it('colours only when asked, and never with NO_COLOR', async () => {
    const plain = await runCli(['--config', config, 'status'], { home: home.path });
    assert.equal(plain.code, 0, plain.stderr);
    assert.doesNotMatch(plain.stdout, ESC, 'no colour when stdout is not a terminal');
    const forced = await runCli(['--config', config, 'status'], { home: home.path, env: { FORCE_COLOR: '1' } });
    assert.match(forced.stdout, ESC, 'FORCE_COLOR turns colour on');
    const noColor = await runCli(['--config', config, 'status'], { home: home.path, env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    assert.doesNotMatch(noColor.stdout, ESC, 'NO_COLOR wins');
    assert.equal(noColor.stdout, plain.stdout);
  });

  it('prints help (exit 0) with no arguments and for --help', async () => {
    for (const args of [[], ['--help'], ['help', 'ask']]) {
      const r = await runCli(args, { home: home.path });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /Usage: omega/);
    }
  });

  it('prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version'], { home: home.path });
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it('accepts global options after the command too', async () => {
    const r = await runCli(['models', '--config', config, '--json'], { home: home.path });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { models: unknown[] }).models.length, 2);
  });
});
