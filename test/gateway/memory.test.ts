import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { MemoryError } from '../../src/core/errors.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../../src/gateway/memory/migrations/index.js';
import { SqliteMemory, SqliteStore, migrate, toMemoryError } from '../../src/gateway/memory/sqlite.js';
import { tempDir } from './helpers.js';
import { describeMemoryContract, exchange } from './memory-contract.js';

const CHILD = fileURLToPath(new URL('./fixtures/memory-child.ts', import.meta.url));

function runChild(args: string[], opts: { uid?: number; gid?: number } = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    ...opts,
  });
}

/** Resolves with the first stdout line equal to `want`; rejects if the child exits first. */
function waitForLine(child: ChildProcess, want: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      if (line === want) {
        rl.close();
        resolve();
      }
    });
    child.once('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before "${want}": ${stderr}`)));
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** What opening a database (and writing to it) came to, as a user who is not root. */
interface OpenOutcome {
  ok: boolean;
  memoryError?: boolean;
  code?: string;
  file?: string;
  message?: string;
}

/**
 * Opens `file` as this user, or, when that is root (which ignores file and directory modes),
 * in a child process running as "nobody".
 */
async function openAsUnprivileged(file: string): Promise<OpenOutcome> {
  if (process.getuid?.() === 0) {
    const child = runChild(['probe', file], { uid: 65534, gid: 65534 });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const result = await exited(child);
    assert.equal(result.code, 0, err);
    return JSON.parse(out.trim()) as OpenOutcome;
  }
  try {
    SqliteMemory.open(file).close();
    return { ok: true };
  } catch (error) {
    const e = error as MemoryError;
    return { ok: false, memoryError: error instanceof MemoryError, code: e.code, file: e.file, message: e.message };
  }
}

function sqliteMaster(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map(
      (r) => r.name,
    );
  } finally {
    db.close();
  }
}

describe('SqliteMemory schema and migrations', () => {
  const dir = tempDir('omega-memory-');

  it('migrates an empty file to the latest schema, in WAL mode, creating directories 0700', () => {
    const nested = join(dir.path, 'a', 'b');
    const file = join(nested, 'memory.db');
    const memory = SqliteMemory.open(file);
    try {
      assert.equal(memory.file, file);
      assert.equal(memory.schemaVersion(), LATEST_SCHEMA_VERSION);
      assert.ok(LATEST_SCHEMA_VERSION >= 1);
    } finally {
      memory.close();
    }
    assert.equal(statSync(nested).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir.path, 'a')).mode & 0o777, 0o700);
    assert.deepEqual(
      sqliteMaster(file).filter((n) => !n.startsWith('sqlite_')),
      ['audit', 'conversations', 'messages', 'schema_version', 'token_calibration'],
    );
    const db = new Database(file);
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  });

  it('opens a zero-byte file and is idempotent on re-open (no step applied twice, data kept)', () => {
    const file = join(dir.path, 'empty.db');
    writeFileSync(file, '');
    const first = SqliteMemory.open(file);
    first.saveExchange(exchange('c1', 1));
    first.close();

    const second = SqliteMemory.open(file);
    try {
      assert.equal(second.schemaVersion(), LATEST_SCHEMA_VERSION);
      assert.equal(second.history('c1', 10).length, 2);
    } finally {
      second.close();
    }
    const db = new Database(file, { readonly: true });
    try {
      const rows = db.prepare('SELECT version, name FROM schema_version ORDER BY version').all();
      assert.deepEqual(
        rows,
        MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
      );
    } finally {
      db.close();
    }
  });

  it('rolls back every step of a failing migration', () => {
    const file = join(dir.path, 'failing.db');
    SqliteMemory.open(file).close();
    const db = new Database(file);
    try {
      const broken = [
        ...MIGRATIONS,
        { version: MIGRATIONS.length + 1, name: 'broken', sql: 'CREATE TABLE extra (a); SELECT no_such_column FROM audit;' },
      ];
      assert.throws(
        () => migrate(db, file, broken),
        (e: unknown) => e instanceof MemoryError && e.code === 'schema' && e.message.includes(file),
      );
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map(
        (r) => r.name,
      );
      assert.ok(!tables.includes('extra'), 'the first statement of the failed step was rolled back');
      assert.equal(
        (db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number }).v,
        LATEST_SCHEMA_VERSION,
      );
      // The same list without the broken step applies cleanly afterwards.
      const fixed = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'fixed', sql: 'CREATE TABLE extra (a);' }];
      assert.deepEqual(migrate(db, file, fixed), { from: LATEST_SCHEMA_VERSION, to: LATEST_SCHEMA_VERSION + 1 });
    } finally {
      db.close();
    }
  });

  it('refuses a database written by a newer schema', () => {
    const file = join(dir.path, 'newer.db');
    SqliteMemory.open(file).close();
    const db = new Database(file);
    db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(99, 'future', 'x');
    db.close();
    assert.throws(
      () => SqliteMemory.open(file),
      (e: unknown) => e instanceof MemoryError && e.code === 'schema' && e.message.includes(file) && /99/.test(e.message),
    );
  });
});

// The backend-independent suite (history, flags, forget, audit, titles, tokens, calibration,
// atomic exchanges, ordered concurrent writers, export/import), on SQLite files.
const contractDir = tempDir('omega-memory-data-');
let contractFiles = 0;
const contractFile = join(contractDir.path, 'data.db');
describeMemoryContract('sqlite', {
  open: async () => SqliteStore.open(contractFile),
  openEmpty: async () => SqliteStore.open(join(contractDir.path, `empty-${++contractFiles}.db`)),
  locationPattern: /data\.db$/,
  openUpgraded: async (sql) => {
    const file = join(contractDir.path, `upgraded-${++contractFiles}.db`);
    const db = new Database(file);
    try {
      migrate(db, file, MIGRATIONS.slice(0, -1));
      db.exec(sql);
    } finally {
      db.close();
    }
    return SqliteStore.open(file);
  },
});

describe('SqliteStore', () => {
  it('settles synchronous failures as rejected promises, never as throws', async () => {
    const store = SqliteStore.open(join(contractDir.path, 'closed.db'));
    await store.close();
    let result: Promise<unknown> | undefined;
    assert.doesNotThrow(() => {
      result = store.history('x', 1);
    });
    await assert.rejects(result!, (e: unknown) => e instanceof MemoryError && e.message.includes('closed.db'));
  });
});

describe('SqliteMemory under concurrency and failure', () => {
  const dir = tempDir('omega-memory-fail-');

  it('two writer processes at once both succeed and every exchange is whole', { timeout: 60_000 }, async () => {
    const file = join(dir.path, 'shared', 'memory.db');
    const count = 400;
    const children = [runChild(['write', file, 'alpha', String(count)]), runChild(['write', file, 'beta', String(count)])];
    try {
      // Both open the (not yet existing) file and migrate it concurrently, then start writing together.
      await Promise.all(children.map((c) => waitForLine(c, 'ready')));
      for (const c of children) c.stdin?.end('go\n');
      const done = children.map((c) => waitForLine(c, 'done'));
      await Promise.all(done);
      const results = await Promise.all(children.map(exited));
      assert.deepEqual(results, [
        { code: 0, signal: null },
        { code: 0, signal: null },
      ]);
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    const memory = SqliteMemory.open(file);
    try {
      const all = [...memory.conversations()];
      const total = all.reduce((n, c) => n + c.messageCount, 0);
      assert.equal(total, 2 * count * 2);
      assert.equal(memory.listAudit({ limit: 10_000 }).length, 2 * count);
      // In the conversation both wrote to, every user message is directly followed by its answer.
      const shared = memory.messages('shared');
      assert.equal(shared.length, count * 2);
      for (let i = 0; i < shared.length; i += 2) {
        const user = shared[i];
        const answer = shared[i + 1];
        assert.equal(user?.role, 'user');
        assert.equal(answer?.content, `answer to ${user?.content ?? ''}`);
      }
      const senders = new Set(shared.filter((m) => m.role === 'user').map((m) => m.sender));
      assert.deepEqual([...senders].sort(), ['alpha', 'beta']);
    } finally {
      memory.close();
    }
  });

  it('a process killed in the middle of saveExchange leaves no half exchange', { timeout: 60_000 }, async () => {
    const file = join(dir.path, 'crash.db');
    const setup = SqliteMemory.open(file);
    setup.saveExchange(exchange('before', 1));
    setup.close();
    // A trigger that stalls the writer on the assistant insert, after the conversation and the
    // user message were written by earlier statements, so the child dies between statements.
    const raw = new Database(file);
    raw.exec(`CREATE TABLE spin (x INTEGER);
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO spin SELECT i FROM n;
      CREATE TRIGGER stall BEFORE INSERT ON messages WHEN NEW.content = 'answer to CRASH-HERE'
      BEGIN SELECT COUNT(*) FROM spin a, spin b, spin c; END;`);
    raw.close();

    const child = runChild(['crash', file]);
    try {
      await waitForLine(child, 'saving');
      // Wait until the child has held the write lock for a while: it is stalled in the trigger,
      // past every statement before the assistant insert.
      const probe = new Database(file, { timeout: 0 });
      try {
        const deadline = Date.now() + 30_000;
        let busyInARow = 0;
        while (busyInARow < 10) {
          try {
            probe.exec('BEGIN IMMEDIATE; ROLLBACK;');
            busyInARow = 0;
          } catch (error) {
            if (!(error as { code?: string }).code?.startsWith('SQLITE_BUSY')) throw error;
            busyInARow++;
          }
          if (Date.now() > deadline) throw new Error('the child never stalled inside saveExchange');
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        probe.close();
      }
      child.kill('SIGKILL');
      assert.deepEqual(await exited(child), { code: null, signal: 'SIGKILL' });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }

    const memory = SqliteMemory.open(file);
    try {
      assert.deepEqual(memory.messages('crashed'), []);
      assert.ok(!memory.conversations().some((c) => c.id === 'crashed'));
      assert.equal(memory.listAudit({ conversationId: 'crashed' }).length, 0);
      assert.equal(memory.history('before', 10).length, 2);
    } finally {
      memory.close();
    }
    const db = new Database(file);
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      db.exec('DROP TRIGGER stall');
    } finally {
      db.close();
    }
  });

  it('a failing second insert rolls the whole exchange back and reports a MemoryError', () => {
    const file = join(dir.path, 'abort.db');
    const memory = SqliteMemory.open(file);
    try {
      const raw = new Database(file);
      raw.exec(`CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.role = 'assistant' AND NEW.content = 'answer 2'
        BEGIN SELECT RAISE(ABORT, 'simulated failure'); END;`);
      raw.close();
      memory.saveExchange(exchange('c', 1));
      const audit = { channel: 'test', conversationId: 'c', sender: 'tester', provider: 'fake', outcome: 'ok', durationMs: 1 };
      assert.throws(
        () => memory.saveExchange(exchange('c', 2, { audit })),
        (e: unknown) => e instanceof MemoryError && e.file === file && e.message.includes('simulated failure'),
      );
      assert.deepEqual(
        memory.history('c', 10).map((m) => m.content),
        ['question 1', 'answer 1'],
      );
      assert.equal(memory.listAudit({ conversationId: 'c' }).length, 0, 'the audit row shares the transaction');
    } finally {
      memory.close();
    }
  });

  it('a write lock held past the busy timeout gives a "locked" MemoryError, and nothing half-written', () => {
    const file = join(dir.path, 'locked.db');
    const memory = SqliteMemory.open(file, { busyTimeoutMs: 50 });
    const holder = new Database(file);
    try {
      holder.exec('BEGIN IMMEDIATE');
      assert.throws(
        () => memory.saveExchange(exchange('l', 1)),
        (e: unknown) => e instanceof MemoryError && e.code === 'locked' && e.file === file && e.message.includes(file),
      );
      holder.exec('ROLLBACK');
      assert.deepEqual(memory.history('l', 10), []);
      memory.saveExchange(exchange('l', 2));
      assert.equal(memory.history('l', 10).length, 2);
    } finally {
      if (holder.inTransaction) holder.exec('ROLLBACK');
      holder.close();
      memory.close();
    }
  });

  it('a file opened readonly reads but refuses writes with a "readonly" MemoryError', () => {
    const file = join(dir.path, 'ro.db');
    const writer = SqliteMemory.open(file);
    writer.saveExchange(exchange('r', 1));
    writer.close();
    const memory = SqliteMemory.open(file, { readonly: true });
    try {
      assert.equal(memory.readonly, true);
      assert.equal(memory.history('r', 10).length, 2);
      const isReadonly = (e: unknown): boolean => e instanceof MemoryError && e.code === 'readonly' && e.message.includes(file);
      assert.throws(() => memory.saveExchange(exchange('r', 2)), isReadonly);
      assert.throws(() => memory.forget('r'), isReadonly);
      assert.throws(() => memory.audit({ channel: 'c', conversationId: 'r', sender: 's', provider: 'p', outcome: 'ok', durationMs: 1 }), isReadonly);
    } finally {
      memory.close();
    }
    assert.throws(
      () => SqliteMemory.open(join(dir.path, 'missing.db'), { readonly: true }),
      (e: unknown) => e instanceof MemoryError && e.code === 'io' && e.message.includes('missing.db'),
    );
  });

  it('a chmod 0444 file gives a "readonly" MemoryError at open for a user who cannot write it', { timeout: 60_000 }, async () => {
    const roDir = join(dir.path, 'perm');
    mkdirSync(roDir);
    const file = join(roDir, 'memory.db');
    const writer = SqliteMemory.open(file);
    writer.saveExchange(exchange('p', 1));
    writer.close();
    chmodSync(file, 0o444);
    const before = readFileSync(file);
    const cases: { dirMode: number; label: string }[] = [
      { dirMode: 0o777, label: 'writable directory' },
      { dirMode: 0o555, label: 'read-only directory' },
    ];
    try {
      chmodSync(dir.path, 0o755);
      for (const { dirMode, label } of cases) {
        chmodSync(roDir, dirMode);
        const outcome = await openAsUnprivileged(file);
        assert.equal(outcome.ok, false, label);
        assert.equal(outcome.memoryError, true, label);
        assert.equal(outcome.code, 'readonly', label);
        assert.equal(outcome.file, file, label);
        assert.ok(outcome.message?.includes(file), label);
      }
    } finally {
      chmodSync(roDir, 0o700);
      chmodSync(file, 0o600);
    }
    assert.deepEqual(readFileSync(file), before, 'the file was not touched');
  });

  it('a new database in a directory this user cannot write is a "readonly" MemoryError naming the directory', { timeout: 60_000 }, async () => {
    const roDir = join(dir.path, 'ro-new');
    mkdirSync(roDir);
    const file = join(roDir, 'memory.db');
    chmodSync(dir.path, 0o755);
    chmodSync(roDir, 0o555);
    let outcome: OpenOutcome;
    try {
      outcome = await openAsUnprivileged(file);
    } finally {
      chmodSync(roDir, 0o700);
    }
    assert.equal(outcome.ok, false);
    assert.equal(outcome.memoryError, true);
    assert.equal(outcome.code, 'readonly');
    assert.equal(outcome.file, file);
    assert.ok(outcome.message?.includes(`directory ${roDir}`), outcome.message);
    assert.ok(!/check that its directory exists/.test(outcome.message ?? ''), outcome.message);
    assert.equal(existsSync(file), false);
  });

  it('a file that is not a database gives a "corrupt" MemoryError naming it at open, and is left alone', () => {
    const file = join(dir.path, 'garbage.db');
    const text = 'this is not an SQLite database\n'.repeat(200);
    writeFileSync(file, text);
    assert.throws(
      () => SqliteMemory.open(file),
      (e: unknown) => e instanceof MemoryError && e.code === 'corrupt' && e.file === file && e.message.includes(file),
    );
    assert.equal(readFileSync(file, 'utf8'), text);
    assert.ok(!existsSync(`${file}-wal`) || statSync(`${file}-wal`).size === 0);
  });

  it('a database with a damaged page gives a "corrupt" MemoryError at open', () => {
    const file = join(dir.path, 'damaged.db');
    const memory = SqliteMemory.open(file);
    for (let i = 0; i < 300; i++) memory.saveExchange(exchange(`c${i % 7}`, i));
    memory.close();
    const pageSize = 4096;
    const pages = statSync(file).size / pageSize;
    assert.ok(pages > 6, `expected a multi-page database, got ${pages} pages`);
    // Overwrite one page in the middle of the file (not the header page).
    const fd = openSync(file, 'r+');
    try {
      writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, pageSize * Math.floor(pages / 2));
    } finally {
      closeSync(fd);
    }
    assert.throws(
      () => SqliteMemory.open(file),
      (e: unknown) => e instanceof MemoryError && e.code === 'corrupt' && e.file === file && e.message.includes(file),
    );
  });

  it('maps filesystem and SQLite error codes to MemoryError codes', () => {
    const cases: [string, string][] = [
      ['SQLITE_BUSY', 'locked'],
      ['SQLITE_BUSY_SNAPSHOT', 'locked'],
      ['SQLITE_LOCKED', 'locked'],
      ['SQLITE_READONLY', 'readonly'],
      ['SQLITE_READONLY_DIRECTORY', 'readonly'],
      ['EACCES', 'readonly'],
      ['EROFS', 'readonly'],
      ['SQLITE_CORRUPT', 'corrupt'],
      ['SQLITE_NOTADB', 'corrupt'],
      ['SQLITE_FULL', 'io'],
      ['SQLITE_IOERR_WRITE', 'io'],
    ];
    for (const [code, expected] of cases) {
      const error = Object.assign(new Error('boom'), { code });
      const mapped = toMemoryError(error, '/x/memory.db');
      assert.equal(mapped.code, expected, code);
      assert.equal(mapped.file, '/x/memory.db');
      assert.ok(mapped.message.includes('/x/memory.db'), code);
      assert.equal(mapped.cause, error);
    }
  });
});

describe('SqliteMemory token accounting', () => {
  const dir = tempDir('omega-memory-tokens-');

  it('upgrades a version-1 database: old messages are kept without counts, new ones store theirs', () => {
    const file = join(dir.path, 'v1.db');
    const old = new Database(file);
    try {
      assert.deepEqual(migrate(old, file, MIGRATIONS.slice(0, 1)), { from: 0, to: 1 });
      old.prepare("INSERT INTO conversations (id, channel, title, created_at, updated_at) VALUES ('c', 'cli', 't', 'x', 'x')").run();
      old
        .prepare("INSERT INTO messages (conversation_id, role, content, created_at) VALUES ('c', 'user', 'old question', 'x'), ('c', 'assistant', 'old answer', 'x')")
        .run();
    } finally {
      old.close();
    }
    const memory = SqliteMemory.open(file);
    try {
      assert.equal(memory.schemaVersion(), LATEST_SCHEMA_VERSION);
      memory.saveExchange(
        exchange('c', 2, {
          userTokens: { tokens: 12, source: 'server' },
          assistantTokens: { tokens: 30, source: 'estimate' },
          metadata: { providerUsed: 'fake', model: 'fake-model', processingTimeMs: 5, promptTokens: 80, messagesLeftOut: 0 },
        }),
      );
      const entries = memory.historyEntries('c', 10);
      assert.deepEqual(
        entries.map((e) => [e.message.content, e.tokens]),
        [
          ['old question', undefined],
          ['old answer', undefined],
          ['question 2', { tokens: 12, source: 'server' }],
          ['answer 2', { tokens: 30, source: 'estimate' }],
        ],
      );
      assert.equal(entries[3]?.metadata?.promptTokens, 80, 'answers carry their metadata');
      assert.equal(entries[2]?.metadata, undefined, 'user messages do not');
      assert.deepEqual(memory.messages('c')[2]?.tokens, { tokens: 12, source: 'server' });
      assert.deepEqual(memory.historyEntries('c', 1).map((e) => e.message.content), ['answer 2']);
    } finally {
      memory.close();
    }
  });

  it('refuses a token source it does not know', () => {
    const memory = SqliteMemory.open(join(dir.path, 'bad-source.db'));
    try {
      assert.throws(
        () => memory.saveExchange(exchange('c', 1, { userTokens: { tokens: 1, source: 'guess' as 'server' } })),
        (e: unknown) => e instanceof MemoryError,
      );
      assert.equal(memory.history('c', 10).length, 0, 'nothing half-written');
    } finally {
      memory.close();
    }
  });

  it('keeps the calibration per model across processes', () => {
    const file = join(dir.path, 'calibration.db');
    const first = SqliteMemory.open(file);
    first.saveCalibration('ollama/gemma', { chars: 4000, tokens: 1000, samples: 1 });
    first.saveCalibration('ollama/gemma', { chars: 9000, tokens: 2000, samples: 2 });
    first.saveCalibration('anthropic/claude', { chars: 350, tokens: 100, samples: 1 });
    first.close();
    const second = SqliteMemory.open(file);
    try {
      assert.deepEqual(second.calibrations(), [
        ['anthropic/claude', { chars: 350, tokens: 100, samples: 1 }],
        ['ollama/gemma', { chars: 9000, tokens: 2000, samples: 2 }],
      ]);
    } finally {
      second.close();
    }
  });
});
