/**
 * `omega serve` as a real process: it says where it listens, serves, shows up in
 * `omega status`, drains and exits 0 on SIGTERM, exits at once on a second signal, and refuses
 * to leave loopback without tokens.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeOllama, chatLine, ndjson } from '../support/fake-ollama.js';
import { unusedPort } from '../support/fake-ollama.js';
import { collect, runCli, spawnCli, tempHome, waitFor, writeConfig } from './helpers.js';

describe('omega serve (process)', () => {
  test('listens, answers, appears in omega status, and drains on SIGTERM with exit 0', { timeout: 60_000 }, async (t) => {
    const home = tempHome();
    t.after(() => home.remove());
    const fake = await FakeOllama.start();
    t.after(() => fake.close());
    fake.route('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('slow ')) }, { delay: 400 }, { write: ndjson(chatLine('end'), { ...chatLine(''), done: true, done_reason: 'stop' }) }] });
    fake.route('GET', '/api/tags', { body: { models: [] } });
    const port = await unusedPort();
    const config = writeConfig(home.path, { baseUrl: fake.url, model: 'llama3', extra: `[server]\nlisten = "127.0.0.1:${port}"\ndrain_timeout = 10\n` });
    const token = 'a-secret-token-value-42';
    const child = spawnCli(['serve', '--config', config, '--no-memory'], { home: home.path, env: { OMEGA_SERVER_TOKENS: token } });
    const done = collect(child, 50_000);
    let stderr = '';
    child.stderr?.on('data', (d: string) => (stderr += d));
    await waitFor('the listening line', () => stderr.includes('omega serve listening on'));
    assert.match(stderr, new RegExp(`omega serve listening on http://127\\.0\\.0\\.1:${port}\\n`));
    await waitFor('the providers line', () => stderr.includes('omega serve providers:'));
    assert.match(stderr, /omega serve providers: ollama up; 1 token\(s\) required/);

    const status = await runCli(['status', '--json', '--config', config], { home: home.path });
    const report = JSON.parse(status.stdout) as { server: { url: string; running: boolean } };
    assert.deepEqual(report.server, { url: `http://127.0.0.1:${port}`, running: true });

    const res = await fetch(`http://127.0.0.1:${port}/api/chat`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'Hi' }] }) });
    assert.equal(res.status, 200);
    const body = res.text();
    await fake.waitFor(() => fake.requests.some((r) => r.path === '/api/chat'));
    child.kill('SIGTERM');
    assert.match(await body, /"content":"end"/, 'the in-flight stream finished during the drain');
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /SIGTERM, finishing in-flight requests/);
    assert.match(result.stderr, /omega serve stopped/);
    assert.match(result.stderr, /"msg":"request"/, 'one access-log line per request');
    assert.ok(!result.stderr.includes(token), 'the token is never printed');
    assert.ok(!result.stdout.includes(token));
    const after = await runCli(['status', '--json', '--config', config], { home: home.path });
    assert.equal((JSON.parse(after.stdout) as { server: { running: boolean } }).server.running, false);
  });

  test('a second signal exits at once, while a stream would still run', { timeout: 60_000 }, async (t) => {
    const home = tempHome();
    t.after(() => home.remove());
    const fake = await FakeOllama.start();
    t.after(() => fake.close());
    fake.route('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('a')) }, { hang: true }] });
    fake.route('GET', '/api/tags', { body: { models: [] } });
    const port = await unusedPort();
    const config = writeConfig(home.path, { baseUrl: fake.url, model: 'llama3' });
    const child = spawnCli(['serve', '--config', config, '--no-memory', '--listen', `127.0.0.1:${port}`, '--drain-timeout', '60'], { home: home.path });
    const done = collect(child, 50_000);
    let stderr = '';
    child.stderr?.on('data', (d: string) => (stderr += d));
    await waitFor('the listening line', () => stderr.includes('listening on'));
    const res = await fetch(`http://127.0.0.1:${port}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'Hi' }] }) });
    const reader = res.body!.getReader();
    await reader.read();
    child.kill('SIGTERM');
    await waitFor('the drain message', () => stderr.includes('finishing in-flight'));
    const t0 = performance.now();
    child.kill('SIGTERM');
    const result = await done;
    assert.equal(result.code, 143);
    assert.ok(performance.now() - t0 < 5000);
    await reader.cancel().catch(() => {});
  });

  test('off loopback without tokens it refuses to start (exit 2)', { timeout: 30_000 }, async (t) => {
    const home = tempHome();
    t.after(() => home.remove());
    const config = writeConfig(home.path, { baseUrl: 'http://127.0.0.1:9', model: 'llama3' });
    const r = await runCli(['serve', '--config', config, '--no-memory', '--listen', '0.0.0.0:0'], { home: home.path });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Refusing to listen on 0\.0\.0\.0.*OMEGA_SERVER_TOKENS/);
  });
});
