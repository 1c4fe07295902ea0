/**
 * PostgreSQL memory through the real CLI processes: two `omega serve` instances on one
 * database (a conversation continued through the other keeps its history; both starting at
 * once on an empty database migrate it once), `omega status`, `omega memory export/import`
 * between SQLite and PostgreSQL, and the faults a user meets first (database down at start,
 * wrong password) — never with the password in the output.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from '../../src/gateway/memory/postgres-migrations/index.js';
import { FakeOllama, chatAnswer, chatLine, doneLine, unusedPort } from '../support/fake-ollama.js';
import { freePort } from '../support/ollama-harness.js';
import { createDatabase, dropDatabase, postgresSkipReason, startPostgres, testCluster } from '../support/postgres-harness.js';
import { collect, runCli, spawnCli, tempHome, waitFor } from './helpers.js';
import type { CliResult } from './helpers.js';

const skip = postgresSkipReason();

/** A config with Ollama at `baseUrl` and memory in PostgreSQL at `url` (or SQLite at `dbPath`). */
function writePgConfig(dir: string, name: string, opts: { baseUrl: string; url?: string; dbPath?: string; listenPort?: number }): string {
  const file = join(dir, name);
  const memory =
    opts.url !== undefined
      ? ['[memory]', 'backend = "postgres"', `url = "${opts.url}"`, 'pool_size = 4', 'statement_timeout = "2s"']
      : ['[memory]', `db_path = "${opts.dbPath ?? join(dir, 'memory.db')}"`];
  writeFileSync(
    file,
    [
      '[provider.ollama]',
      'enabled = true',
      `base_url = "${opts.baseUrl}"`,
      'model = "llama3"',
      '',
      ...memory,
      '',
      ...(opts.listenPort === undefined ? [] : ['[server]', `listen = "127.0.0.1:${opts.listenPort}"`]),
    ].join('\n'),
  );
  return file;
}

interface Serve {
  child: ChildProcess;
  port: number;
  done: Promise<CliResult>;
  stderr: () => string;
}

async function startServe(home: string, config: string, port: number): Promise<Serve> {
  const child = spawnCli(['serve', '--config', config], { home });
  const done = collect(child, 90_000);
  let stderr = '';
  child.stderr?.on('data', (d: string) => (stderr += d));
  return { child, port, done, stderr: () => stderr };
}

async function chat(port: number, conversation: string, content: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/api/chat`, {
    method: 'POST',
    headers: { 'x-omega-conversation': conversation },
    body: JSON.stringify({ model: 'llama3', stream: false, messages: [{ role: 'user', content }] }),
  });
}

describe('omega serve, status and memory on PostgreSQL (processes)', { skip }, () => {
  let home: { path: string; remove: () => void };
  let fake: FakeOllama;
  let clusterUrl = '';
  const databases: string[] = [];
  const newDatabase = async (): Promise<string> => {
    const url = await createDatabase(clusterUrl);
    databases.push(url);
    return url;
  };

  before(async () => {
    home = tempHome();
    clusterUrl = (await testCluster()).url;
    fake = await FakeOllama.start();
    fake.route('POST', '/api/chat', chatAnswer([chatLine('remembered '), chatLine('answer'), doneLine()]));
    fake.route('GET', '/api/tags', { body: { models: [] } });
    fake.route('GET', '/api/version', { body: { version: '0.9.6' } });
  });
  after(async () => {
    await fake?.close();
    home?.remove();
    for (const url of databases) await dropDatabase(url);
  });

  test('two instances started at once on an empty database migrate it once and share one history', { timeout: 120_000 }, async () => {
    const url = await newDatabase();
    const password = new URL(url).password;
    const ports = [await unusedPort(), await unusedPort()];
    const configs = ports.map((port, i) => writePgConfig(home.path, `serve-${i}.toml`, { baseUrl: fake.url, url, listenPort: port }));
    const serves = await Promise.all(configs.map((config, i) => startServe(home.path, config, ports[i]!)));
    try {
      for (const s of serves) await waitFor('the listening line', () => s.stderr().includes('omega serve listening on'), 60_000);
      const migrated = serves.map((s) => s.stderr().split('\n').filter((l) => l.includes('memory database migrated')).length);
      assert.equal(migrated[0]! + migrated[1]!, 1, `exactly one instance migrated: ${JSON.stringify(migrated)}`);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        assert.deepEqual((await client.query('SELECT version FROM schema_version ORDER BY version')).rows, POSTGRES_MIGRATIONS.map((m) => ({ version: m.version })));
      } finally {
        await client.end();
      }

      const first = await chat(ports[0]!, 'shared-conv', 'My name is Ada.');
      assert.equal(first.status, 200, await first.clone().text());
      await first.text();
      const second = await chat(ports[1]!, 'shared-conv', 'What is my name?');
      assert.equal(second.status, 200);
      await second.text();
      // What the second instance sent to the model: the first exchange (stored by the other instance) first.
      const sent = fake.requests.filter((r) => r.path === '/api/chat').at(-1)?.json as { messages: { role: string; content: string }[] };
      const history = sent.messages.filter((m) => m.role !== 'system').map((m) => [m.role, m.content]);
      assert.deepEqual(history, [
        ['user', 'My name is Ada.'],
        ['assistant', 'remembered answer'],
        ['user', 'What is my name?'],
      ]);

      const status = await runCli(['status', '--json', '--config', configs[0]!], { home: home.path });
      const report = JSON.parse(status.stdout) as { memory: { backend: string; location: string; healthy: boolean; schemaVersion: number } };
      assert.equal(report.memory.backend, 'postgres');
      assert.equal(report.memory.healthy, true);
      assert.equal(report.memory.schemaVersion, POSTGRES_SCHEMA_VERSION);
      assert.match(report.memory.location, /^postgres:\/\/omega:\*\*\*@127\.0\.0\.1:\d+\//);
      const text = await runCli(['status', '--config', configs[0]!], { home: home.path });
      assert.match(text.stdout, new RegExp(`memory\\s+postgres postgres://omega:\\*\\*\\*@.* ok \\(schema ${POSTGRES_SCHEMA_VERSION}, [\\d.]+ ms\\)`));
      for (const out of [status.stdout, status.stderr, text.stdout, text.stderr]) assert.ok(!out.includes(password), 'no password in omega status');
    } finally {
      for (const s of serves) s.child.kill('SIGTERM');
    }
    const results = await Promise.all(serves.map((s) => s.done));
    for (const r of results) {
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stderr.includes(password) && !r.stdout.includes(password), 'no password in the serve output');
    }
  });

  test('serve on a database that restarts: the next request after the restart succeeds', { timeout: 120_000 }, async () => {
    // Its own cluster: restarting the shared one would disturb the other suites.
    const server = await startPostgres();
    const port = await unusedPort();
    const config = writePgConfig(home.path, 'restart.toml', { baseUrl: fake.url, url: server.url, listenPort: port });
    const serve = await startServe(home.path, config, port);
    try {
      await waitFor('the listening line', () => serve.stderr().includes('omega serve listening on'), 60_000);
      // Two requests at once, so the pool holds more than one connection for the restart to kill.
      const warm = await Promise.all([chat(port, 'restart-a', 'one'), chat(port, 'restart-b', 'two')]);
      for (const r of warm) assert.equal(r.status, 200, await r.text());
      server.halt();
      const down = await chat(port, 'restart-a', 'while down');
      assert.equal(down.status, 500, 'a memory failure while the database is down');
      assert.match(await down.text(), /not reachable/);
      server.resume();
      const after = await chat(port, 'restart-a', 'after the restart');
      assert.equal(after.status, 200, await after.clone().text());
      await after.text();
      const sent = fake.requests.filter((r) => r.path === '/api/chat').at(-1)?.json as { messages: { role: string; content: string }[] };
      assert.deepEqual(
        sent.messages.filter((m) => m.role === 'user').map((m) => m.content),
        ['one', 'after the restart'],
        'the history from before the restart, without the failed request',
      );
    } finally {
      serve.child.kill('SIGTERM');
      const result = await serve.done;
      server.stop();
      assert.equal(result.code, 0, result.stderr);
      assert.ok(!result.stderr.includes(server.password), 'no password in the serve output');
    }
  });

  test('serve with the database down at start exits non-zero with a clear error and no password', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const url = `postgres://omega:down-secret-4417@127.0.0.1:${port}/omega`;
    const config = writePgConfig(home.path, 'down.toml', { baseUrl: fake.url, url, listenPort: await unusedPort() });
    const r = await runCli(['serve', '--config', config], { home: home.path, timeoutMs: 30_000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /The memory database at postgres:\/\/omega:\*\*\*@127\.0\.0\.1:\d+\/omega is not reachable .*start PostgreSQL or fix \[memory\] url/);
    assert.ok(!`${r.stdout}${r.stderr}`.includes('down-secret-4417'));
    const status = await runCli(['status', '--config', config], { home: home.path });
    assert.match(status.stdout, /memory\s+postgres .* unreachable: /);
    assert.equal(status.code, 1, 'a memory database that does not answer fails the check');
    assert.ok(!`${status.stdout}${status.stderr}`.includes('down-secret-4417'));
  });

  test('a wrong password: serve and status say the login was refused, without the password', { timeout: 60_000 }, async () => {
    const url = new URL(await newDatabase());
    url.password = 'wrong-secret-9925';
    const config = writePgConfig(home.path, 'wrong.toml', { baseUrl: fake.url, url: url.toString(), listenPort: await unusedPort() });
    const r = await runCli(['serve', '--config', config], { home: home.path, timeoutMs: 30_000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /refused the login .*check the user and password in \[memory\] url or PGPASSWORD/);
    assert.ok(!`${r.stdout}${r.stderr}`.includes('wrong-secret-9925'));
    const status = await runCli(['status', '--json', '--config', config], { home: home.path });
    const report = JSON.parse(status.stdout) as { ok: boolean; memory: { healthy: boolean } };
    assert.equal(report.memory.healthy, false);
    assert.equal(report.ok, false);
    assert.equal(status.code, 1);
    assert.ok(!`${status.stdout}${status.stderr}`.includes('wrong-secret-9925'));
  });

  test('memory export from SQLite and import into PostgreSQL move conversations whole; a second import changes nothing', { timeout: 60_000 }, async () => {
    const sqliteConfig = writePgConfig(home.path, 'sqlite.toml', { baseUrl: fake.url, dbPath: join(home.path, 'move.db') });
    const asked = await runCli(['ask', '--config', sqliteConfig, '--conversation', 'moved', 'Hello there'], { home: home.path });
    assert.equal(asked.code, 0, asked.stderr);
    await runCli(['ask', '--config', sqliteConfig, '--conversation', 'moved', 'And again'], { home: home.path });
    const exported = await runCli(['memory', 'export', '--config', sqliteConfig], { home: home.path });
    assert.equal(exported.code, 0, exported.stderr);
    const lines = exported.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    assert.match(exported.stderr, /Exported 1 conversation\(s\), 4 message\(s\) from sqlite memory/);

    const url = await newDatabase();
    const pgConfig = writePgConfig(home.path, 'pg.toml', { baseUrl: fake.url, url });
    const imported = await runCli(['memory', 'import', '--config', pgConfig], { home: home.path, input: exported.stdout });
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stderr, /Imported 1 conversation\(s\), 4 message\(s\) into postgres memory at postgres:\/\/omega:\*\*\*@/);
    const again = await runCli(['memory', 'import', '--config', pgConfig], { home: home.path, input: exported.stdout });
    assert.match(again.stderr, /Imported 0 conversation\(s\), 0 message\(s\) .*; 1 already present, left alone \(moved\)/);

    const back = await runCli(['memory', 'export', '--config', pgConfig], { home: home.path });
    assert.deepEqual(JSON.parse(back.stdout.trim()), JSON.parse(lines[0]!), 'the same conversation, field for field');

    // A continued conversation on PostgreSQL sends the imported history.
    const before = fake.requests.length;
    const cont = await runCli(['ask', '--config', pgConfig, '--conversation', 'moved', 'Third'], { home: home.path });
    assert.equal(cont.code, 0, cont.stderr);
    const sent = fake.requests.slice(before).find((r) => r.path === '/api/chat')?.json as { messages: { role: string; content: string }[] };
    assert.deepEqual(
      sent.messages.filter((m) => m.role === 'user').map((m) => m.content),
      ['Hello there', 'And again', 'Third'],
    );

    const bad = await runCli(['memory', 'import', '--config', pgConfig], { home: home.path, input: `${lines[0]!.replace('"moved"', '"other"')}\n{"id":1}\n` });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /Line 2 of stdin is not a conversation export: "id" is missing or not a string; nothing was imported/);
    const listed = await runCli(['memory', 'export', '--config', pgConfig], { home: home.path });
    assert.equal(listed.stdout.trim().split('\n').length, 1, 'the good first line was not imported either');
  });
});
