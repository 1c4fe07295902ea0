/**
 * The PostgreSQL memory store against a real server (Debian's postgresql, a throwaway cluster
 * from test/support/postgres-harness.ts): the shared contract suite, then what only a server
 * has — migrations under an advisory lock, a schema too new, the statement timeout, a wrong
 * password, a server that is down or restarts — and the gateway on top of it.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import { MemoryError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import { Gateway } from '../../src/gateway/gateway.js';
import type { GatewayEvent, IncomingMessage } from '../../src/gateway/gateway.js';
import { PostgresMemory, redactUrl } from '../../src/gateway/memory/postgres.js';
import { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from '../../src/gateway/memory/postgres-migrations/index.js';
import { createDatabase, dropDatabase, postgresSkipReason, startPostgres, testCluster } from '../support/postgres-harness.js';
import { freePort } from '../support/ollama-harness.js';
import { FakeModelProvider, testConfig } from './helpers.js';
import { describeMemoryContract, exchange } from './memory-contract.js';

const skip = postgresSkipReason();
const created: string[] = [];

async function newDatabase(): Promise<string> {
  const url = await createDatabase((await testCluster()).url);
  created.push(url);
  return url;
}

after(async () => {
  for (const url of created) await dropDatabase(url);
});

let contractUrl = '';
describeMemoryContract(
  'postgres',
  {
    setup: async () => {
      contractUrl = await newDatabase();
    },
    open: () => PostgresMemory.open({ url: contractUrl }),
    openEmpty: async () => PostgresMemory.open({ url: await newDatabase() }),
    locationPattern: /^postgres:\/\/omega:\*\*\*@127\.0\.0\.1:\d+\/omega_test_\w+$/,
    openUpgraded: async (sql) => {
      const url = await newDatabase();
      await (await PostgresMemory.open({ url, migrations: POSTGRES_MIGRATIONS.slice(0, -1) })).close();
      const client = await raw(url);
      try {
        await client.query(sql);
      } finally {
        await client.end();
      }
      return PostgresMemory.open({ url });
    },
  },
  { skip },
);

/** A logger whose lines are kept as parsed JSON. */
function capture(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream) as unknown as Logger, lines };
}

async function raw(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

describe('PostgresMemory: migrations', { skip }, () => {
  it('four instances opening an empty database at once migrate it once', async () => {
    const url = await newDatabase();
    const logs = Array.from({ length: 4 }, capture);
    const stores = await Promise.all(logs.map(({ logger }) => PostgresMemory.open({ url, logger })));
    try {
      const migrated = logs.flatMap((l) => l.lines).filter((l) => l.msg === 'memory database migrated');
      assert.equal(migrated.length, 1, 'exactly one instance applied the migrations');
      assert.deepEqual(migrated[0]?.from, 0);
      assert.deepEqual(migrated[0]?.to, POSTGRES_SCHEMA_VERSION);
      const client = await raw(url);
      try {
        const rows = (await client.query<{ version: number }>('SELECT version FROM schema_version ORDER BY version')).rows;
        assert.deepEqual(
          rows.map((r) => r.version),
          POSTGRES_MIGRATIONS.map((m) => m.version),
        );
      } finally {
        await client.end();
      }
      for (const store of stores) assert.equal(await store.schemaVersion(), POSTGRES_SCHEMA_VERSION);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('refuses a schema newer than it knows, with a MemoryError naming both versions', async () => {
    const url = await newDatabase();
    await (await PostgresMemory.open({ url })).close();
    const client = await raw(url);
    await client.query("INSERT INTO schema_version (version, name, applied_at) VALUES (99, 'from-the-future', now())");
    await client.end();
    const password = new URL(url).password;
    await assert.rejects(PostgresMemory.open({ url }), (e: unknown) => {
      assert.ok(e instanceof MemoryError);
      assert.equal(e.code, 'schema');
      assert.match(e.message, new RegExp(`schema version 99, newer than this Omega supports \\(${POSTGRES_SCHEMA_VERSION}\\); upgrade Omega`));
      assert.ok(!e.message.includes(password), 'no password in the message');
      assert.match(e.file, /:\*\*\*@/);
      return true;
    });
  });

  it('a failing migration leaves the database as it was', async () => {
    const url = await newDatabase();
    const next = POSTGRES_SCHEMA_VERSION + 1;
    const broken = [...POSTGRES_MIGRATIONS, { version: next, name: 'broken', sql: 'CREATE TABLE half_done (x int); SELECT no_such_function();' }];
    await assert.rejects(
      PostgresMemory.open({ url, migrations: broken }),
      (e: unknown) => e instanceof MemoryError && e.code === 'schema' && new RegExp(`schema version ${next} \\(broken\\) failed: .*no_such_function`).test(e.message),
    );
    const client = await raw(url);
    try {
      assert.equal((await client.query("SELECT to_regclass('half_done') AS t")).rows[0]?.t, null);
      assert.equal((await client.query<{ v: number }>('SELECT MAX(version)::int AS v FROM schema_version')).rows[0]?.v, POSTGRES_SCHEMA_VERSION);
    } finally {
      await client.end();
    }
  });
});

describe('PostgresMemory: faults', { skip }, () => {
  it('a statement past the statement timeout is a "timeout" MemoryError; the next one succeeds', async () => {
    const url = await newDatabase();
    const memory = await PostgresMemory.open({ url, statementTimeoutMs: 200 });
    const locker = await raw(url);
    try {
      await memory.saveExchange(exchange('busy', 1));
      // Another session holds the conversation's row lock, so the next exchange waits for it.
      await locker.query('BEGIN');
      await locker.query("SELECT * FROM conversations WHERE id = 'busy' FOR UPDATE");
      const started = performance.now();
      await assert.rejects(memory.saveExchange(exchange('busy', 2)), (e: unknown) => {
        assert.ok(e instanceof MemoryError);
        assert.equal(e.code, 'timeout');
        assert.match(e.message, /ran longer than the statement timeout of 200 ms.*statementTimeoutMs \(\[memory\] statement_timeout\)/);
        return true;
      });
      assert.ok(performance.now() - started < 5000);
      await locker.query('ROLLBACK');
      await memory.saveExchange(exchange('busy', 3));
      assert.deepEqual(
        (await memory.history('busy', 10)).map((m) => m.content),
        ['question 1', 'answer 1', 'question 3', 'answer 3'],
      );
    } finally {
      await locker.end();
      await memory.close();
    }
  });

  it('a wrong password is an "auth" MemoryError with no password in it', async () => {
    const url = await newDatabase();
    const wrong = new URL(url);
    const real = wrong.password;
    wrong.password = 'not-the-password-7731';
    const { logger, lines } = capture();
    await assert.rejects(PostgresMemory.open({ url: wrong.toString(), logger }), (e: unknown) => {
      assert.ok(e instanceof MemoryError);
      assert.equal(e.code, 'auth');
      assert.match(e.message, /refused the login .*check the user and password in \[memory\] url or PGPASSWORD/);
      const everything = `${e.message} ${e.file} ${String((e.cause as Error | undefined)?.message)} ${JSON.stringify(lines)}`;
      // The messages on failure must not print what they look for either.
      assert.ok(!everything.includes('not-the-password-7731'), 'the wrong password leaked');
      assert.ok(!everything.includes(real), 'the real password leaked');
      return true;
    });
  });

  it('a server that is not there is an "unavailable" MemoryError, at once', async () => {
    const url = `postgres://omega:some-password@127.0.0.1:${await freePort()}/omega`;
    const started = performance.now();
    await assert.rejects(
      PostgresMemory.open({ url }),
      (e: unknown) => e instanceof MemoryError && e.code === 'unavailable' && /not reachable .*start PostgreSQL or fix \[memory\] url/.test(e.message),
    );
    assert.ok(performance.now() - started < 5000);
  });

  it('a server restarted mid-run: requests while it is down fail clearly, the next one after succeeds', { timeout: 120_000 }, async () => {
    // Its own cluster: restarting the shared one would disturb other suites.
    const server = await startPostgres();
    const memory = await PostgresMemory.open({ url: server.url, poolSize: 4 });
    try {
      // Fill the pool with idle connections, all of which the restart kills.
      await Promise.all(Array.from({ length: 4 }, (_, i) => memory.saveExchange(exchange(`before-${i}`, 1))));
      server.halt();
      await assert.rejects(memory.history('before-0', 10), (e: unknown) => e instanceof MemoryError && e.code === 'unavailable');
      server.resume();
      await memory.saveExchange(exchange('after', 1));
      assert.equal((await memory.history('after', 10)).length, 2, 'the first write after the restart succeeded, once');
      assert.equal((await memory.history('before-0', 10)).length, 2);
      assert.equal((await memory.health()).ok, true);
    } finally {
      await memory.close();
      server.stop();
    }
  });
});

describe('PostgresMemory: text PostgreSQL cannot hold', { skip }, () => {
  it('stores a NUL character as U+FFFD instead of failing the exchange', async () => {
    const memory = await PostgresMemory.open({ url: await newDatabase() });
    try {
      await memory.saveExchange(
        exchange('nul', 1, {
          user: { role: 'user', content: 'a\u0000b' },
          assistant: { role: 'assistant', content: 'c\u0000d', toolCalls: [{ name: 't', arguments: { x: 'e\u0000f' } }] },
          metadata: { providerUsed: 'p', model: 'm\u0000', processingTimeMs: 1 },
        }),
      );
      const [user, answer] = await memory.messages('nul');
      assert.equal(user?.content, 'a\uFFFDb');
      assert.equal(answer?.content, 'c\uFFFDd');
      assert.deepEqual(answer?.toolCalls, [{ name: 't', arguments: { x: 'e\uFFFDf' } }]);
      assert.equal(answer?.metadata?.model, 'm\uFFFD');
    } finally {
      await memory.close();
    }
  });
});

describe('redactUrl', () => {
  it('never shows a password, from the URL or an unparsable one', () => {
    assert.equal(redactUrl('postgres://omega:s3cret@db:5432/omega'), 'postgres://omega:***@db:5432/omega');
    assert.equal(redactUrl('postgres://omega:s3cret@db/omega?password=other&sslmode=require'), 'postgres://omega:***@db/omega');
    assert.ok(!redactUrl('postgres://omega:s3cr et@db:bad:port/x').includes('s3cr'));
    assert.equal(redactUrl(undefined, { PGHOST: 'db', PGPORT: '6543', PGUSER: 'u', PGDATABASE: 'd', PGPASSWORD: 'pw' }), 'postgres://u@db:6543/d');
  });
});

function msg(text: string, conversationId = 'conv'): IncomingMessage {
  return { channel: 'cli', conversationId, sender: 'alice', text };
}

describe('Gateway on PostgreSQL memory', { skip }, () => {
  it('sends the stored history, stores each exchange, keeps interrupted answers and audits every attempt', async () => {
    const url = await newDatabase();
    const memory = await PostgresMemory.open({ url });
    const ollama = new FakeModelProvider('ollama', [
      { answer: 'first answer', promptTokens: 20, completionTokens: 5 },
      { answer: 'second answer', promptTokens: 40, completionTokens: 6 },
      { chunks: ['partial ', 'answer'], failWith: 'unavailable' },
    ]);
    const openai = new FakeModelProvider('openai', [{ error: 'unavailable' }]);
    const config = testConfig({ enabled: ['ollama', 'openai'], fallback: ['openai'] });
    const gateway = new Gateway({ config, memory, providers: { ollama, openai } });
    try {
      await gateway.handle(msg('first question'));
      await gateway.handle(msg('second question'));
      const sent = ollama.requests[1]?.messages.map((m) => [m.role, m.content]);
      assert.deepEqual(sent?.slice(1), [
        ['user', 'first question'],
        ['assistant', 'first answer'],
        ['user', 'second question'],
      ]);
      const events: GatewayEvent[] = [];
      await assert.rejects(async () => {
        for await (const e of gateway.stream(msg('third question'))) events.push(e);
      });
      const stored = await memory.messages('conv');
      assert.deepEqual(
        stored.map((m) => [m.role, m.content, m.interrupted]),
        [
          ['user', 'first question', false],
          ['assistant', 'first answer', false],
          ['user', 'second question', false],
          ['assistant', 'second answer', false],
          ['user', 'third question', false],
          ['assistant', 'partial answer', true],
        ],
      );
      assert.deepEqual(stored[3]?.tokens, { tokens: 6, source: 'server' });
      assert.deepEqual(
        (await memory.listAudit({ conversationId: 'conv' })).map((r) => [r.provider, r.outcome]),
        [
          ['ollama', 'ok'],
          ['ollama', 'ok'],
          ['ollama', 'unavailable'],
        ],
      );
      // A second gateway on the same database (another instance) continues the conversation.
      const other = await Gateway.connect({ ...config, memory: { ...config.memory, backend: 'postgres', url } }, {});
      try {
        assert.equal(other.memory?.backend, 'postgres');
        assert.equal((await other.memory!.history('conv', 100)).length, 6);
      } finally {
        await other.close();
      }
    } finally {
      await gateway.close();
    }
  });

  it('Gateway.open refuses the postgres backend with a ConfigError pointing at Gateway.connect', () => {
    const config = testConfig();
    assert.throws(
      () => Gateway.open({ ...config, memory: { ...config.memory, backend: 'postgres', url: 'postgres://x@127.0.0.1:1/x' } }),
      /Gateway\.connect/,
    );
  });
});
