/**
 * The memory test suite every backend must pass, written once against the async MemoryStore
 * interface: memory.test.ts runs it on SQLite, memory-postgres.test.ts on a real PostgreSQL.
 * What it checks is the shared semantics: history windows, flags, forget, audit, titles,
 * token counts, calibration, one transaction per exchange, order under concurrent writers,
 * and export/import.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryError } from '../../src/core/errors.js';
import type { ExchangeInput, MemoryStore } from '../../src/gateway/memory/store.js';

/** A backend under test: `open()` gives a new store (connection or handle) on the suite's one database. */
export interface MemoryBackendFactory {
  /** Called in the suite's `before`, so a database can be created there. */
  setup?(): Promise<void>;
  open(): Promise<MemoryStore>;
  /** A store on a second, empty database (the target of an import). */
  openEmpty(): Promise<MemoryStore>;
  /** Where the location string must point (a file path or a URL without password). */
  locationPattern?: RegExp;
  /**
   * A new database brought to the schema before the latest, `sql` run on it, then opened by a
   * store (which migrates it to the latest).
   */
  openUpgraded(sql: string): Promise<MemoryStore>;
}

/** An exchange of the suite's usual shape. */
export function exchange(conversationId: string, i: number, extra: Partial<ExchangeInput> = {}): ExchangeInput {
  return {
    conversationId,
    channel: 'test',
    sender: 'tester',
    user: { role: 'user', content: `question ${i}` },
    assistant: { role: 'assistant', content: `answer ${i}` },
    metadata: { providerUsed: 'fake', model: 'fake-model', processingTimeMs: 5 },
    ...extra,
  };
}

/** Registers the contract suite for one backend. */
export function describeMemoryContract(label: string, factory: MemoryBackendFactory, options: { skip?: string | false } = {}): void {
  describe(`memory contract: ${label}`, { skip: options.skip ?? false }, () => {
    let memory: MemoryStore;
    before(async () => {
      await factory.setup?.();
      memory = await factory.open();
    });
    after(async () => {
      await memory?.close();
    });

    it('returns the last N messages oldest first, with thinking and tool calls intact', async () => {
      for (let i = 1; i <= 4; i++) await memory.saveExchange(exchange('window', i));
      await memory.saveExchange(
        exchange('window', 5, {
          assistant: {
            role: 'assistant',
            content: 'answer 5',
            thinking: 'pondering',
            toolCalls: [{ name: 'lookup', arguments: { q: 'x' } }],
          },
        }),
      );
      assert.deepEqual(await memory.history('window', 3), [
        { role: 'assistant', content: 'answer 4' },
        { role: 'user', content: 'question 5' },
        {
          role: 'assistant',
          content: 'answer 5',
          thinking: 'pondering',
          toolCalls: [{ name: 'lookup', arguments: { q: 'x' } }],
        },
      ]);
      assert.equal((await memory.history('window', 100)).length, 10);
      assert.deepEqual(await memory.history('window', 0), []);
      assert.deepEqual(await memory.history('nobody-here', 5), []);
    });

    it('stores the interrupted flag, sender, provider and metadata', async () => {
      await memory.saveExchange(
        exchange('flags', 1, {
          interrupted: true,
          metadata: { providerUsed: 'p1', model: 'm1', processingTimeMs: 7, doneReason: 'interrupted' },
        }),
      );
      const [user, assistant] = await memory.messages('flags');
      assert.equal(user?.sender, 'tester');
      assert.equal(user?.interrupted, false);
      assert.equal(assistant?.interrupted, true);
      assert.equal(assistant?.provider, 'p1');
      assert.equal(assistant?.model, 'm1');
      assert.deepEqual(assistant?.metadata, { providerUsed: 'p1', model: 'm1', processingTimeMs: 7, doneReason: 'interrupted' });
      assert.match(user?.createdAt ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });

    it('forget deletes the conversation and its messages but keeps the audit trail', async () => {
      const audit = { channel: 'test', conversationId: 'gone', sender: 'tester', provider: 'fake', outcome: 'ok', durationMs: 3 };
      await memory.saveExchange(exchange('gone', 1, { audit }));
      await memory.saveExchange(exchange('gone', 2));
      await memory.saveExchange(exchange('stays', 1));
      assert.ok((await memory.conversations()).some((c) => c.id === 'gone'));
      assert.equal(await memory.forget('gone'), 4);
      assert.deepEqual(await memory.history('gone', 10), []);
      assert.ok(!(await memory.conversations()).some((c) => c.id === 'gone'));
      assert.equal((await memory.history('stays', 10)).length, 2);
      assert.equal((await memory.listAudit({ conversationId: 'gone' })).length, 1);
      assert.equal(await memory.forget('gone'), 0);
    });

    it('lists audit records oldest first, filtered and limited', async () => {
      for (let i = 0; i < 5; i++) {
        await memory.audit({
          ts: new Date(Date.UTC(2025, 0, 1, 0, 0, i)),
          channel: 'cli',
          conversationId: i % 2 === 0 ? 'audit-even' : 'audit-odd',
          sender: 'me',
          provider: 'ollama',
          model: 'llama3',
          outcome: i === 4 ? 'unavailable' : 'ok',
          ...(i === 4 ? { errorCode: 'unavailable', errorMessage: 'down' } : {}),
          promptTokens: 10 + i,
          completionTokens: 20 + i,
          durationMs: 100 + i,
        });
      }
      const even = await memory.listAudit({ conversationId: 'audit-even' });
      assert.deepEqual(
        even.map((r) => [r.ts, r.outcome, r.promptTokens, r.completionTokens, r.durationMs, r.errorCode]),
        [
          ['2025-01-01T00:00:00.000Z', 'ok', 10, 20, 100, undefined],
          ['2025-01-01T00:00:02.000Z', 'ok', 12, 22, 102, undefined],
          ['2025-01-01T00:00:04.000Z', 'unavailable', 14, 24, 104, 'unavailable'],
        ],
      );
      assert.deepEqual(
        (await memory.listAudit({ conversationId: 'audit-even', limit: 1 })).map((r) => r.errorMessage),
        ['down'],
      );
      assert.equal((await memory.listAudit({ conversationId: 'audit-odd' })).length, 2);
    });

    it('keeps the host of an audit row, on its own and with an exchange; rows without one have none', async () => {
      const base = { channel: 'serve', conversationId: 'audit-host', sender: 'me', provider: 'ollama', model: 'm' };
      await memory.audit({ ...base, outcome: 'unavailable', errorCode: 'unavailable', errorMessage: 'refused', durationMs: 3, host: 'http://127.0.0.1:1' });
      await memory.saveExchange(
        exchange('audit-host', 1, { audit: { ...base, outcome: 'ok', durationMs: 9, host: 'http://127.0.0.1:2' } }),
      );
      await memory.audit({ ...base, outcome: 'ok', durationMs: 4 });
      assert.deepEqual(
        (await memory.listAudit({ conversationId: 'audit-host' })).map((r) => [r.outcome, r.host, r.errorMessage]),
        [
          ['unavailable', 'http://127.0.0.1:1', 'refused'],
          ['ok', 'http://127.0.0.1:2', undefined],
          ['ok', undefined, undefined],
        ],
      );
    });

    it('an upgrade from the previous schema keeps the audit rows written before it, without a host', async () => {
      const upgraded = await factory.openUpgraded(
        `INSERT INTO audit (ts, channel, conversation_id, sender, provider, model, outcome, error_code, error_message, prompt_tokens, completion_tokens, duration_ms)
         VALUES ('2025-02-03T04:05:06.000Z', 'cli', 'old', 'me', 'ollama', 'llama3', 'busy', 'busy', 'full', 7, 8, 90)`,
      );
      try {
        await upgraded.audit({ channel: 'cli', conversationId: 'old', sender: 'me', provider: 'ollama', outcome: 'ok', durationMs: 1, host: 'http://h:11434' });
        const rows = await upgraded.listAudit({ conversationId: 'old' });
        assert.deepEqual(
          rows.map(({ id: _id, ...rest }) => rest),
          [
            { ts: '2025-02-03T04:05:06.000Z', channel: 'cli', conversationId: 'old', sender: 'me', provider: 'ollama', model: 'llama3', outcome: 'busy', errorCode: 'busy', errorMessage: 'full', promptTokens: 7, completionTokens: 8, durationMs: 90 },
            { ts: rows[1]?.ts, channel: 'cli', conversationId: 'old', sender: 'me', provider: 'ollama', outcome: 'ok', durationMs: 1, host: 'http://h:11434' },
          ],
        );
      } finally {
        await upgraded.close();
      }
    });

    it('summarises conversations with a title and message count', async () => {
      const long = 'x'.repeat(200);
      await memory.saveExchange(exchange('titled', 1, { user: { role: 'user', content: `  hello\n  world ${long}` } }));
      await memory.saveExchange(exchange('titled', 2));
      const summary = (await memory.conversations()).find((c) => c.id === 'titled');
      assert.ok(summary);
      assert.equal(summary.messageCount, 4);
      assert.equal(summary.channel, 'test');
      assert.ok(summary.title?.startsWith('hello world xxx'));
      assert.equal(summary.title?.length, 80);
    });

    it('stores token counts and gives them back with the history; answers carry their metadata', async () => {
      await memory.saveExchange(
        exchange('tokens', 1, {
          userTokens: { tokens: 12, source: 'server' },
          assistantTokens: { tokens: 30, source: 'estimate' },
          metadata: { providerUsed: 'fake', model: 'fake-model', processingTimeMs: 5, promptTokens: 80, messagesLeftOut: 0 },
        }),
      );
      await memory.saveExchange(exchange('tokens', 2));
      const entries = await memory.historyEntries('tokens', 10);
      assert.deepEqual(
        entries.map((e) => [e.message.content, e.tokens]),
        [
          ['question 1', { tokens: 12, source: 'server' }],
          ['answer 1', { tokens: 30, source: 'estimate' }],
          ['question 2', undefined],
          ['answer 2', undefined],
        ],
      );
      assert.equal(entries[1]?.metadata?.promptTokens, 80);
      assert.equal(entries[0]?.metadata, undefined, 'user messages do not carry metadata');
      assert.deepEqual((await memory.messages('tokens'))[0]?.tokens, { tokens: 12, source: 'server' });
      assert.deepEqual((await memory.historyEntries('tokens', 1)).map((e) => e.message.content), ['answer 2']);
    });

    it('a failing exchange stores nothing, not even its audit row, and is a MemoryError', async () => {
      await memory.saveExchange(exchange('atomic', 1));
      const audit = { channel: 'test', conversationId: 'atomic', sender: 'tester', provider: 'fake', outcome: 'ok', durationMs: 1 };
      await assert.rejects(
        memory.saveExchange(exchange('atomic', 2, { audit, assistantTokens: { tokens: 1, source: 'guess' as 'server' } })),
        (e: unknown) => e instanceof MemoryError,
      );
      assert.deepEqual(
        (await memory.history('atomic', 10)).map((m) => m.content),
        ['question 1', 'answer 1'],
      );
      assert.equal((await memory.listAudit({ conversationId: 'atomic' })).length, 0, 'the audit row shares the transaction');
    });

    it('keeps the calibration per model for the next store on the same database', async () => {
      await memory.saveCalibration('ollama/gemma', { chars: 4000, tokens: 1000, samples: 1 });
      await memory.saveCalibration('ollama/gemma', { chars: 9000, tokens: 2000, samples: 2 });
      await memory.saveCalibration('anthropic/claude', { chars: 350, tokens: 100, samples: 1 });
      const second = await factory.open();
      try {
        assert.deepEqual(await second.calibrations(), [
          ['anthropic/claude', { chars: 350, tokens: 100, samples: 1 }],
          ['ollama/gemma', { chars: 9000, tokens: 2000, samples: 2 }],
        ]);
      } finally {
        await second.close();
      }
    });

    it('concurrent writers through two stores keep each conversation in order: every question followed by its answer', async () => {
      const other = await factory.open();
      const perWriter = 60;
      try {
        const write = (store: MemoryStore, who: string) =>
          Promise.all(
            Array.from({ length: perWriter }, (_, i) =>
              store.saveExchange({
                ...exchange('shared', i, {
                  sender: who,
                  user: { role: 'user', content: `${who} ${i}` },
                  assistant: { role: 'assistant', content: `answer to ${who} ${i}` },
                }),
                audit: { channel: 'test', conversationId: 'shared', sender: who, provider: 'fake', outcome: 'ok', durationMs: 1 },
              }),
            ),
          );
        await Promise.all([write(memory, 'alpha'), write(other, 'beta')]);
      } finally {
        await other.close();
      }
      const shared = await memory.messages('shared');
      assert.equal(shared.length, 2 * perWriter * 2);
      for (let i = 0; i < shared.length; i += 2) {
        assert.equal(shared[i]?.role, 'user');
        assert.equal(shared[i + 1]?.content, `answer to ${shared[i]?.content ?? ''}`);
      }
      const ids = shared.map((m) => m.id);
      assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'ids grow with the order');
      assert.equal((await memory.listAudit({ conversationId: 'shared', limit: 1000 })).length, 2 * perWriter);
    });

    it('exports a conversation whole and imports it elsewhere once; a second import changes nothing', async () => {
      await memory.saveExchange(
        exchange('moving', 1, {
          interrupted: true,
          userTokens: { tokens: 3, source: 'server' },
          assistant: { role: 'assistant', content: 'part', thinking: 'hm', toolCalls: [{ name: 't', arguments: { a: 1 } }] },
          metadata: { providerUsed: 'p', model: 'm', processingTimeMs: 2, doneReason: 'interrupted' },
        }),
      );
      await memory.saveExchange(exchange('moving', 2));
      const exported = await memory.exportConversation('moving');
      assert.ok(exported);
      assert.equal(exported.messages.length, 4);
      assert.equal(await memory.exportConversation('no-such-conversation'), undefined);
      const target = await factory.openEmpty();
      try {
        assert.equal(await target.importConversation(exported), 'imported');
        assert.equal(await target.importConversation(exported), 'exists');
        assert.deepEqual(await target.exportConversation('moving'), exported);
        assert.deepEqual(await target.history('moving', 10), await memory.history('moving', 10));
        // The imported conversation continues where it left off.
        await target.saveExchange(exchange('moving', 3));
        assert.deepEqual(
          (await target.history('moving', 3)).map((m) => m.content),
          ['answer 2', 'question 3', 'answer 3'],
        );
      } finally {
        await target.close();
      }
    });

    it('reports its health and schema version, and names its location', async () => {
      const health = await memory.health();
      assert.equal(health.ok, true);
      assert.equal(health.backend, memory.backend);
      assert.equal(health.schemaVersion, await memory.schemaVersion());
      if (factory.locationPattern !== undefined) assert.match(memory.location, factory.locationPattern);
    });

    it('fails with a MemoryError after close', async () => {
      const other = await factory.open();
      await other.close();
      await other.close();
      await assert.rejects(other.history('x', 1), (e: unknown) => e instanceof MemoryError && e.message.includes('closed'));
    });
  });
}
