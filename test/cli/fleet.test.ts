/**
 * The CLI with several Ollama hosts (`[[provider.ollama.hosts]]`), end to end against scripted
 * fake Ollamas: `omega models` says which hosts have each model and where it is loaded,
 * `omega status` shows every host, and `omega pull --all-hosts` pulls everywhere with progress
 * per host, reports a host's failure and says so in the exit status. (A real pull needs a
 * registry, which the test machine does not have; the fakes stream Ollama's pull progress.)
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { closedPort, runCli, startFakeOllama, tempHome, type ScriptedOllama } from './helpers.js';

/** A config with one `[[provider.ollama.hosts]]` table per URL. */
function fleetConfig(dir: string, urls: string[], name = 'fleet.toml'): string {
  const file = join(dir, name);
  const lines = ['[provider.ollama]', 'model = "tiny"', ''];
  for (const url of urls) lines.push('[[provider.ollama.hosts]]', `url = "${url}"`, 'max_concurrent = 2', '');
  // No background timers: each command refreshes discovery itself.
  lines.push('[provider.ollama.fleet]', 'refresh_interval = 0', 'probe_interval = 0', '');
  lines.push('[memory]', `db_path = "${join(dir, 'memory.db').replace(/\\/g, '/')}"`, '');
  writeFileSync(file, lines.join('\n'));
  return file;
}

const short = (url: string): string => url.replace(/^http:\/\//, '');

describe('CLI with an Ollama fleet', () => {
  let a: ScriptedOllama;
  let b: ScriptedOllama;
  let home: ReturnType<typeof tempHome>;
  let config: string;

  before(async () => {
    [a, b] = await Promise.all([startFakeOllama(), startFakeOllama()]);
    // Host b has only tiny, and has it loaded; host a has both models, none loaded.
    b.models = b.models.filter((m) => m.name === 'tiny:latest');
    b.running = [{ name: 'tiny:latest', size: 12_345_678, expiresAt: new Date(Date.now() + 300_000).toISOString() }];
    b.pullable = new Set(['tiny-remote', 'only-on-b']);
    home = tempHome();
    config = fleetConfig(home.path, [a.url, b.url]);
  });
  after(async () => {
    await Promise.all([a.close(), b.close()]);
    home.remove();
  });

  it('omega models lists each model once with the hosts that have it and where it is loaded', async () => {
    const r = await runCli(['--config', config, 'models'], { home: home.path });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3, r.stdout);
    const header = (lines[0] ?? '').split(/\s{2,}/);
    assert.deepEqual(header.slice(-2), ['HOSTS', 'LOADED ON']);
    const tiny = (lines.find((l) => l.startsWith('tiny:latest')) ?? '').split(/\s{2,}/);
    const tools = (lines.find((l) => l.startsWith('tiny-tools:latest')) ?? '').split(/\s{2,}/);
    assert.deepEqual(tiny.slice(-2), [`${short(a.url)}, ${short(b.url)}`, short(b.url)], r.stdout);
    assert.deepEqual(tools.slice(-2), [short(a.url), '-'], r.stdout);
    // The context window still comes from /api/show, asked of a host that has the model.
    assert.equal(tools[5], '4K');

    const json = await runCli(['--config', config, 'models', '--json'], { home: home.path });
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { models: { name: string; hosts?: string[]; loadedOn?: string[] }[] };
    const t = parsed.models.find((m) => m.name === 'tiny:latest');
    assert.deepEqual(t?.hosts, [a.url, b.url]);
    assert.deepEqual(t?.loadedOn, [b.url]);
  });

  it('omega status shows every host, and a host that is down as a problem with the next step', async () => {
    const port = await closedPort();
    const down = `http://127.0.0.1:${port}`;
    const withDown = fleetConfig(home.path, [a.url, b.url, down], 'with-down.toml');
    const r = await runCli(['--config', withDown, 'status', '--json'], { home: home.path });
    // The default model is there and two hosts answer, but a host is down: that needs fixing.
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as {
      providers: { name: string; available: boolean; version?: string; hosts?: { url: string; up: boolean; version?: string; circuit: string; loaded: { model: string }[] }[]; problems: { message: string; nextStep?: string }[] }[];
    };
    const ollama = report.providers.find((p) => p.name === 'ollama');
    assert.ok(ollama?.available);
    assert.equal(ollama.version, '0.9.6');
    assert.deepEqual(
      ollama.hosts?.map((h) => [h.url, h.up, h.version ?? null]),
      [
        [a.url, true, '0.9.6'],
        [b.url, true, '0.9.6'],
        [down, false, null],
      ],
    );
    assert.deepEqual(ollama.hosts?.[1]?.loaded.map((m) => m.model), ['tiny:latest']);
    assert.equal(ollama.problems.length, 1, JSON.stringify(ollama.problems));
    assert.match(ollama.problems[0]?.message ?? '', new RegExp(`Host ${down} is down`));
    assert.match(ollama.problems[0]?.nextStep ?? '', /ollama serve/);

    const text = await runCli(['--config', withDown, 'status'], { home: home.path });
    const hostLines = text.stdout.split('\n').filter((l) => /^\s+127\.0\.0\.1:\d+\s/.test(l));
    assert.equal(hostLines.length, 3, text.stdout);
    assert.match(hostLines[0] ?? '', /\bup\s+0\.9\.6\s+closed\s+0\/2\s+0\s+none$/);
    assert.match(hostLines[1] ?? '', /\bup\s+0\.9\.6\s+closed\s+0\/2\s+0\s+tiny:latest/);
    assert.match(hostLines[2] ?? '', /\bdown\s+-\s+/);
  });

  it('omega pull --all-hosts pulls on every host with progress lines per host (exit 0)', async () => {
    a.requests.length = 0;
    b.requests.length = 0;
    const r = await runCli(['--config', config, 'pull', 'tiny-remote', '--all-hosts'], { home: home.path });
    assert.equal(r.code, 0, r.stderr);
    for (const fake of [a, b]) {
      const pulls = fake.requests.filter((x) => x.path === '/api/pull');
      assert.equal(pulls.length, 1);
      assert.equal((pulls[0]?.body as { model?: string }).model, 'tiny-remote');
      const lines = r.stderr.split('\n').filter((l) => l.startsWith(`${short(fake.url)}: `));
      assert.equal(lines[0], `${short(fake.url)}: pulling manifest`);
      assert.ok(lines.includes(`${short(fake.url)}: 100% (1.0 MB/1.0 MB)`), r.stderr);
      assert.equal(lines.at(-1), `${short(fake.url)}: success`);
    }
    assert.match(r.stderr, /^Pulled tiny-remote on all 2 hosts\.$/m);
    assert.ok(!r.stderr.includes('\u001b['), 'no escape codes when not a terminal');
  });

  it('a host that fails the pull is reported, the others finish, and the exit status is 1', async () => {
    const r = await runCli(['--config', config, 'pull', 'only-on-b', '--all-hosts'], { home: home.path });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^${short(b.url)}: success$`, 'm'));
    assert.match(r.stderr, new RegExp(`^${short(a.url)}: failed: .*does not exist`, 'm'));
    assert.match(r.stderr, /^omega: the pull of only-on-b failed on 1 of 2 hosts \(it succeeded on 1\)/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  it('without --all-hosts it asks which hosts (usage error, exit 2); --host pulls on that one only', async () => {
    const r = await runCli(['--config', config, 'pull', 'tiny-remote'], { home: home.path });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /2 Ollama hosts are configured; add --all-hosts/);

    a.requests.length = 0;
    b.requests.length = 0;
    const one = await runCli(['--config', config, 'pull', 'tiny-remote', '--host', short(b.url)], { home: home.path });
    assert.equal(one.code, 0, one.stderr);
    assert.equal(a.requests.filter((x) => x.path === '/api/pull').length, 0);
    assert.equal(b.requests.filter((x) => x.path === '/api/pull').length, 1);
    assert.deepEqual(one.stderr.trimEnd().split('\n').slice(-1), ['success']);

    const bad = await runCli(['--config', config, 'pull', 'tiny-remote', '--host', 'http://127.0.0.1:1'], { home: home.path });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /is not one of the configured hosts/);
  });
});
