import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, ProviderError, UsageError } from '../../src/core/errors.js';
import type { ProviderErrorCode } from '../../src/core/errors.js';
import { chatOverComplete } from '../../src/core/types.js';
import { Gateway } from '../../src/gateway/gateway.js';
import type { GatewayEvent, IncomingMessage, RoutedChat } from '../../src/gateway/gateway.js';
import { SqliteMemory, SqliteStore } from '../../src/gateway/memory/sqlite.js';
import { PostgresMemory } from '../../src/gateway/memory/postgres.js';
import type { MemoryStore } from '../../src/gateway/memory/store.js';
import { createDatabase, dropDatabase, postgresSkipReason, testCluster } from '../support/postgres-harness.js';
import type { ProviderName } from '../../src/config/types.js';
import { FakeModelProvider, FakePlainProvider, tempDir, testConfig } from './helpers.js';

// Every suite that touches memory runs on both backends: SQLite in memory, and a fresh
// database on the test run's PostgreSQL for each gateway.
const databases: string[] = [];
after(async () => {
  for (const url of databases) await dropDatabase(url);
});
const BACKENDS: { name: string; skip: string | false; open: () => Promise<MemoryStore> }[] = [
  { name: 'sqlite', skip: false, open: async () => SqliteStore.open(':memory:') },
  {
    name: 'postgres',
    skip: postgresSkipReason(),
    open: async () => {
      const url = await createDatabase((await testCluster()).url);
      databases.push(url);
      return PostgresMemory.open({ url });
    },
  },
];
let openMemory: () => Promise<MemoryStore> = BACKENDS[0]!.open;

function msg(text: string, extra: Partial<IncomingMessage> = {}): IncomingMessage {
  return { channel: 'cli', conversationId: 'conv', sender: 'alice', text, ...extra };
}

async function collect(events: AsyncIterable<GatewayEvent>): Promise<GatewayEvent[]> {
  const out: GatewayEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

function chunkText(events: GatewayEvent[]): string {
  return events.map((e) => (e.type === 'chunk' ? e.chunk.content : '')).join('');
}

/** A gateway with a fresh memory of the backend under test and the given fakes; every named provider is enabled. */
async function setup(
  providers: Record<string, FakeModelProvider | FakePlainProvider>,
  opts: { default?: ProviderName; fallback?: ProviderName[]; enabled?: ProviderName[]; maxContextMessages?: number } = {},
): Promise<{ gateway: Gateway; memory: MemoryStore }> {
  const memory = await openMemory();
  const config = testConfig({
    default: opts.default ?? 'ollama',
    fallback: opts.fallback ?? [],
    enabled: opts.enabled ?? (Object.keys(providers) as ProviderName[]),
    ...(opts.maxContextMessages === undefined ? {} : { maxContextMessages: opts.maxContextMessages }),
  });
  const adapted = Object.fromEntries(
    Object.entries(providers).map(([name, p]) => [name, p instanceof FakePlainProvider ? chatOverComplete(p) : p]),
  );
  return { gateway: new Gateway({ config, memory, providers: adapted }), memory };
}

for (const backend of BACKENDS) {
  describe(`gateway on ${backend.name} memory`, { skip: backend.skip }, () => {
    before(() => {
      openMemory = backend.open;
    });

    describe('Gateway.handle', () => {
      it('sends system prompt, the history window and the message; stores the exchange; audits ok', async () => {
        const ollama = new FakeModelProvider('ollama', [{ answer: 'fourth answer', promptTokens: 40, completionTokens: 9 }]);
        const { gateway, memory } = await setup({ ollama }, { maxContextMessages: 4 });
        for (let i = 1; i <= 3; i++) {
          await memory.saveExchange({
            conversationId: 'conv',
            channel: 'cli',
            sender: 'alice',
            user: { role: 'user', content: `q${i}` },
            assistant: { role: 'assistant', content: `a${i}` },
            metadata: { providerUsed: 'ollama', model: 'm', processingTimeMs: 1 },
          });
        }
        await memory.saveExchange({
          conversationId: 'other',
          channel: 'cli',
          sender: 'bob',
          user: { role: 'user', content: 'elsewhere' },
          assistant: { role: 'assistant', content: 'elsewhere too' },
          metadata: { providerUsed: 'ollama', model: 'm', processingTimeMs: 1 },
        });

        const answer = await gateway.handle(msg('q4'));

        assert.deepEqual(ollama.requests[0]?.messages, [
          { role: 'system', content: 'You are a test.' },
          { role: 'user', content: 'q2' },
          { role: 'assistant', content: 'a2' },
          { role: 'user', content: 'q3' },
          { role: 'assistant', content: 'a3' },
          { role: 'user', content: 'q4' },
        ]);
        assert.equal(ollama.requests[0]?.model, undefined, 'no override: the provider uses its configured model');
        assert.equal(answer.text, 'fourth answer');
        assert.equal(answer.replyTarget, 'conv');
        assert.equal(answer.metadata.providerUsed, 'ollama');
        assert.equal(answer.metadata.model, 'ollama-model');
        assert.equal(answer.metadata.tokensUsed, 49);
        assert.equal(answer.metadata.fallbackFrom, undefined);
        assert.deepEqual(
          (await memory.history('conv', 2)),
          [
            { role: 'user', content: 'q4' },
            { role: 'assistant', content: 'fourth answer' },
          ],
        );
        const stored = (await memory.messages('conv')).at(-1);
        assert.equal(stored?.provider, 'ollama');
        assert.equal(stored?.interrupted, false);
        const audit = await memory.listAudit({ conversationId: 'conv' });
        assert.equal(audit.length, 1);
        assert.deepEqual(
          { ...audit[0], id: 0, ts: '', durationMs: 0 },
          {
            id: 0,
            ts: '',
            durationMs: 0,
            channel: 'cli',
            conversationId: 'conv',
            sender: 'alice',
            provider: 'ollama',
            model: 'ollama-model',
            outcome: 'ok',
            promptTokens: 40,
            completionTokens: 9,
          },
        );
        assert.ok(!Number.isNaN(Date.parse(audit[0]?.ts ?? '')));
      });

      it('uses msg.systemPrompt over the config one, and sends none when it is empty', async () => {
        const ollama = new FakeModelProvider('ollama', [{ answer: 'a' }, { answer: 'b' }]);
        const { gateway } = await setup({ ollama });
        await gateway.handle(msg('one', { systemPrompt: 'Be terse.' }));
        await gateway.handle(msg('two', { conversationId: 'fresh', systemPrompt: '' }));
        assert.deepEqual(ollama.requests[0]?.messages[0], { role: 'system', content: 'Be terse.' });
        assert.deepEqual(ollama.requests[1]?.messages, [{ role: 'user', content: 'two' }]);
      });

      it('passes model, think and images to the first provider', async () => {
        const ollama = new FakeModelProvider('ollama', [{ answer: 'seen', thinking: 'hmm' }]);
        const { gateway } = await setup({ ollama });
        const answer = await gateway.handle(msg('look', { model: 'llava', think: 'high', images: ['aGVsbG8='] }));
        const request = ollama.requests[0];
        assert.equal(request?.model, 'llava');
        assert.equal(request?.think, 'high');
        assert.deepEqual(request?.messages.at(-1), { role: 'user', content: 'look', images: ['aGVsbG8='] });
        assert.equal(answer.thinking, 'hmm');
        assert.equal(answer.metadata.model, 'llava');
      });

      it('falls back in config order, skipping duplicates and disabled providers, and audits every attempt', async () => {
        const ollama = new FakeModelProvider('ollama', [{ error: 'unavailable' }]);
        const anthropic = new FakeModelProvider('anthropic', [{ answer: 'never' }]);
        const openai = new FakeModelProvider('openai', [{ error: 'busy' }]);
        const openrouter = new FakeModelProvider('openrouter', [{ answer: 'from openrouter' }]);
        const { gateway, memory } = await setup(
          { ollama, anthropic, openai, openrouter },
          {
            fallback: ['ollama', 'anthropic', 'openai', 'ollama', 'openrouter'],
            enabled: ['ollama', 'openai', 'openrouter'],
          },
        );
        const answer = await gateway.handle(msg('hello', { model: 'special' }));

        assert.equal(answer.text, 'from openrouter');
        assert.equal(answer.metadata.providerUsed, 'openrouter');
        assert.deepEqual(answer.metadata.fallbackFrom, ['ollama', 'openai']);
        assert.equal(anthropic.requests.length, 0, 'disabled providers are skipped');
        assert.equal(ollama.requests.length, 1, 'a provider listed twice is tried once');
        assert.equal(ollama.requests[0]?.model, 'special');
        assert.equal(openai.requests[0]?.model, undefined, 'fallbacks use their own configured model');
        assert.deepEqual(
          (await memory.listAudit({ conversationId: 'conv' })).map((r) => [r.provider, r.model, r.outcome, r.errorCode]),
          [
            ['ollama', 'special', 'unavailable', 'unavailable'],
            ['openai', 'openai-model', 'busy', 'busy'],
            ['openrouter', 'openrouter-model', 'ok', undefined],
          ],
        );
        const failed = (await memory.listAudit({ conversationId: 'conv' }))[0];
        assert.equal(failed?.errorMessage, 'ollama failed with unavailable.');
        const stored = await memory.messages('conv');
        assert.equal(stored.length, 2);
        assert.equal(stored[1]?.provider, 'openrouter');
        assert.deepEqual(stored[1]?.metadata?.fallbackFrom, ['ollama', 'openai']);
      });

      for (const code of ['model_not_found', 'bad_request', 'unsupported', 'auth', 'aborted', 'protocol'] as ProviderErrorCode[]) {
        it(`does not fall back after a non-retryable "${code}" error, rethrows it, stores nothing`, async () => {
          const ollama = new FakeModelProvider('ollama', [{ error: code }]);
          const openai = new FakeModelProvider('openai', [{ answer: 'should not be asked' }]);
          const { gateway, memory } = await setup({ ollama, openai }, { fallback: ['openai'] });
          await assert.rejects(gateway.handle(msg('hi')), (e: unknown) => e instanceof ProviderError && e.code === code && e.provider === 'ollama');
          assert.equal(openai.requests.length, 0);
          assert.deepEqual((await memory.messages('conv')), []);
          assert.deepEqual((await memory.conversations()), []);
          assert.deepEqual(
            (await memory.listAudit()).map((r) => [r.provider, r.outcome]),
            [['ollama', code]],
          );
        });
      }

      it('does not fall back from an error that is not a ProviderError, and audits it as "error"', async () => {
        const ollama = new FakeModelProvider('ollama', [{ error: new TypeError('bug in a provider') }]);
        const openai = new FakeModelProvider('openai', [{ answer: 'no' }]);
        const { gateway, memory } = await setup({ ollama, openai }, { fallback: ['openai'] });
        await assert.rejects(gateway.handle(msg('hi')), TypeError);
        assert.equal(openai.requests.length, 0);
        assert.deepEqual(
          (await memory.listAudit()).map((r) => [r.outcome, r.errorMessage]),
          [['error', 'bug in a provider']],
        );
      });

      it('when every provider fails, throws the first failure naming the others, audits all, stores nothing', async () => {
        const ollama = new FakeModelProvider('ollama', [{ error: 'unavailable' }]);
        const openai = new FakeModelProvider('openai', [{ error: 'rate_limited' }]);
        const { gateway, memory } = await setup({ ollama, openai }, { fallback: ['openai'] });
        await assert.rejects(
          gateway.handle(msg('hi')),
          (e: unknown) =>
            e instanceof ProviderError &&
            e.code === 'unavailable' &&
            e.provider === 'ollama' &&
            e.message.startsWith('ollama failed with unavailable') &&
            e.message.includes('openai (rate_limited)'),
        );
        assert.deepEqual(
          (await memory.listAudit()).map((r) => [r.provider, r.outcome]),
          [
            ['ollama', 'unavailable'],
            ['openai', 'rate_limited'],
          ],
        );
        assert.deepEqual((await memory.messages('conv')), []);
        assert.deepEqual((await memory.conversations()), []);
      });

      it('rethrows a single provider failure as is', async () => {
        const error = new ProviderError({ provider: 'ollama', code: 'timeout', message: 'slow', phase: 'load' });
        const ollama = new FakeModelProvider('ollama', [{ error }]);
        const { gateway } = await setup({ ollama });
        await assert.rejects(gateway.handle(msg('hi')), (e: unknown) => e === error);
      });

      it('skips a fallback that cannot be built (enabled but not in this version)', async () => {
        const ollama = new FakeModelProvider('ollama', [{ error: 'server_error' }]);
        const openai = new FakeModelProvider('openai', [{ answer: 'ok' }]);
        const memory = await openMemory();
        const gateway = new Gateway({
          config: testConfig({ fallback: ['anthropic', 'openai'], enabled: ['ollama', 'anthropic', 'openai'] }),
          memory,
          providers: { ollama, openai },
        });
        const answer = await gateway.handle(msg('hi'));
        assert.equal(answer.metadata.providerUsed, 'openai');
        assert.deepEqual(answer.metadata.fallbackFrom, ['ollama']);
      });

      it('does not start the next fallback once the caller aborted', async () => {
        const controller = new AbortController();
        const ollama = new FakeModelProvider('ollama', [{ error: 'timeout' }]);
        const openai = new FakeModelProvider('openai', [{ answer: 'no' }]);
        const { gateway } = await setup({ ollama, openai }, { fallback: ['openai'] });
        controller.abort();
        await assert.rejects(gateway.handle(msg('hi'), { signal: controller.signal }), (e: unknown) => e instanceof ProviderError);
        assert.equal(openai.requests.length, 0);
      });

      it('calls complete() on a provider without a chat API and records which provider answered', async () => {
        const plain = new FakePlainProvider('ollama', 'plain answer');
        const { gateway, memory } = await setup({ ollama: plain });
        await memory.saveExchange({
          conversationId: 'conv',
          channel: 'cli',
          sender: 'alice',
          user: { role: 'user', content: 'before' },
          assistant: { role: 'assistant', content: 'earlier' },
          metadata: { providerUsed: 'ollama', model: 'm', processingTimeMs: 1 },
        });
        const answer = await gateway.handle(msg('now', { model: 'm2' }));
        assert.equal(answer.text, 'plain answer');
        assert.equal(answer.metadata.providerUsed, 'ollama');
        assert.equal(answer.replyTarget, 'conv');
        assert.deepEqual(plain.contexts[0], {
          systemPrompt: 'You are a test.',
          history: [
            { role: 'user', content: 'before' },
            { role: 'assistant', content: 'earlier' },
          ],
          currentMessage: 'now',
          model: 'm2',
        });
        assert.equal((await memory.messages('conv')).length, 4);
      });

      it('works without memory: no history, nothing stored', async () => {
        const ollama = new FakeModelProvider('ollama', [{ answer: 'a' }, { answer: 'b' }]);
        const gateway = new Gateway({ config: testConfig(), providers: { ollama } });
        assert.equal(gateway.memory, null);
        await gateway.handle(msg('one'));
        await gateway.handle(msg('two'));
        assert.equal(ollama.requests[1]?.messages.length, 2, 'system + the new message only');
      });

      it('rejects a message without channel, conversation, sender or text', async () => {
        const { gateway } = await setup({ ollama: new FakeModelProvider('ollama', []) });
        await assert.rejects(gateway.handle(msg('hi', { conversationId: '' })), UsageError);
        await assert.rejects(gateway.handle(msg('hi', { channel: ' ' })), UsageError);
        await assert.rejects(gateway.handle(msg('hi', { sender: '' })), UsageError);
        await assert.rejects(gateway.handle(msg('   ')), UsageError);
      });

      it('refuses a disabled or unknown first provider with a ConfigError that says how to enable it', async () => {
        const ollama = new FakeModelProvider('ollama', []);
        const memory = await openMemory();
        const gateway = new Gateway({
          config: testConfig({ enabled: ['ollama'] }),
          memory,
          providers: { ollama, openai: new FakeModelProvider('openai', []) },
          configFile: '/home/u/.omega/config.toml',
        });
        await assert.rejects(
          gateway.handle(msg('hi', { provider: 'openai' })),
          (e: unknown) =>
            e instanceof ConfigError &&
            e.message.includes('[provider.openai] enabled = true') &&
            e.message.includes('/home/u/.omega/config.toml'),
        );
        await assert.rejects(gateway.handle(msg('hi', { provider: 'nope' })), (e: unknown) => e instanceof ConfigError && /Unknown provider "nope"/.test(e.message));
        assert.deepEqual((await memory.listAudit()), [], 'nothing was attempted');
      });
    });

    describe('Gateway.stream', () => {
      it('yields chunks as they come, then done; stores the exchange and audits ok', async () => {
        const ollama = new FakeModelProvider('ollama', [{ chunks: ['Hel', 'lo', '!'] }]);
        const { gateway, memory } = await setup({ ollama });
        const events = await collect(gateway.stream(msg('greet me')));
        assert.deepEqual(
          events.map((e) => (e.type === 'chunk' ? `chunk:${e.provider}:${e.chunk.content}` : 'done')),
          ['chunk:ollama:Hel', 'chunk:ollama:lo', 'chunk:ollama:!', 'chunk:ollama:', 'done'],
        );
        const done = events.at(-1);
        assert.ok(done?.type === 'done');
        assert.equal(done.message.text, 'Hello!');
        assert.equal(done.message.replyTarget, 'conv');
        assert.equal(done.message.metadata.doneReason, 'stop');
        assert.equal(done.message.metadata.completionTokens, 3);
        assert.deepEqual((await memory.history('conv', 10)), [
          { role: 'user', content: 'greet me' },
          { role: 'assistant', content: 'Hello!' },
        ]);
        assert.deepEqual(
          (await memory.listAudit()).map((r) => [r.provider, r.outcome, r.promptTokens, r.completionTokens]),
          [['ollama', 'ok', 9, 3]],
        );
      });

      it('falls back before the first chunk and says so in the metadata', async () => {
        const ollama = new FakeModelProvider('ollama', [{ error: 'connection_lost' }]);
        const openai = new FakeModelProvider('openai', [{ chunks: ['fine'] }]);
        const { gateway, memory } = await setup({ ollama, openai }, { fallback: ['openai'] });
        const events = await collect(gateway.stream(msg('hi')));
        assert.ok(events.every((e) => e.type === 'done' || e.provider === 'openai'));
        assert.equal(chunkText(events), 'fine');
        const done = events.at(-1);
        assert.ok(done?.type === 'done');
        assert.equal(done.message.metadata.providerUsed, 'openai');
        assert.deepEqual(done.message.metadata.fallbackFrom, ['ollama']);
        assert.deepEqual(
          (await memory.listAudit()).map((r) => [r.provider, r.outcome]),
          [
            ['ollama', 'connection_lost'],
            ['openai', 'ok'],
          ],
        );
      });

      it('does not fall back after a non-retryable error before the first chunk', async () => {
        const ollama = new FakeModelProvider('ollama', [{ error: 'model_not_found' }]);
        const openai = new FakeModelProvider('openai', [{ chunks: ['no'] }]);
        const { gateway, memory } = await setup({ ollama, openai }, { fallback: ['openai'] });
        await assert.rejects(collect(gateway.stream(msg('hi'))), (e: unknown) => e instanceof ProviderError && e.code === 'model_not_found');
        assert.equal(openai.requests.length, 0);
        assert.deepEqual((await memory.messages('conv')), []);
        assert.deepEqual((await memory.listAudit()).map((r) => r.outcome), ['model_not_found']);
      });

      it('a failure mid-answer does not fall back; the partial answer is stored as interrupted', async () => {
        const ollama = new FakeModelProvider('ollama', [{ chunks: ['par', 'tial'], failWith: 'connection_lost' }]);
        const openai = new FakeModelProvider('openai', [{ chunks: ['no'] }]);
        const { gateway, memory } = await setup({ ollama, openai }, { fallback: ['openai'] });
        const seen: string[] = [];
        await assert.rejects(
          (async () => {
            for await (const e of gateway.stream(msg('hi'))) if (e.type === 'chunk') seen.push(e.chunk.content);
          })(),
          (e: unknown) => e instanceof ProviderError && e.code === 'connection_lost',
        );
        assert.deepEqual(seen, ['par', 'tial']);
        assert.equal(openai.requests.length, 0);
        const stored = await memory.messages('conv');
        assert.deepEqual(
          stored.map((m) => [m.role, m.content, m.interrupted]),
          [
            ['user', 'hi', false],
            ['assistant', 'partial', true],
          ],
        );
        assert.equal(stored[1]?.metadata?.doneReason, 'interrupted');
        assert.deepEqual(
          (await memory.listAudit()).map((r) => [r.provider, r.outcome, r.errorCode]),
          [['ollama', 'connection_lost', 'connection_lost']],
        );
      });

      it('leaving the loop early cancels the provider stream and stores the partial answer as interrupted', async () => {
        const ollama = new FakeModelProvider('ollama', [{ chunks: ['one ', 'two ', 'three ', 'four'] }]);
        const { gateway, memory } = await setup({ ollama });
        let count = 0;
        for await (const e of gateway.stream(msg('count'))) {
          if (e.type === 'chunk' && ++count === 2) break;
        }
        assert.equal(ollama.closedEarly, 1, 'the provider stream was closed');
        const stored = await memory.messages('conv');
        assert.deepEqual(
          stored.map((m) => [m.role, m.content, m.interrupted]),
          [
            ['user', 'count', false],
            ['assistant', 'one two ', true],
          ],
        );
        assert.equal(stored[1]?.metadata?.doneReason, 'interrupted');
        assert.deepEqual((await memory.listAudit()).map((r) => r.outcome), ['aborted']);
      });

      it('an aborted signal mid-answer stores the partial answer as interrupted and rethrows "aborted"', async () => {
        const ollama = new FakeModelProvider('ollama', [{ chunks: ['first ', 'never'], waitForAbortAfter: 1 }]);
        const { gateway, memory } = await setup({ ollama });
        const controller = new AbortController();
        await assert.rejects(
          (async () => {
            for await (const e of gateway.stream(msg('go'), { signal: controller.signal })) {
              if (e.type === 'chunk') controller.abort();
            }
          })(),
          (e: unknown) => e instanceof ProviderError && e.code === 'aborted',
        );
        assert.deepEqual(
          (await memory.messages('conv')).map((m) => [m.content, m.interrupted]),
          [
            ['go', false],
            ['first ', true],
          ],
        );
        assert.deepEqual((await memory.listAudit()).map((r) => r.outcome), ['aborted']);
      });

      it('leaving after the final chunk (before "done") keeps the answer as complete', async () => {
        const ollama = new FakeModelProvider('ollama', [{ chunks: ['all'] }]);
        const { gateway, memory } = await setup({ ollama });
        for await (const e of gateway.stream(msg('hi'))) {
          if (e.type === 'chunk' && e.chunk.done) break;
        }
        assert.deepEqual(
          (await memory.messages('conv')).map((m) => [m.content, m.interrupted]),
          [
            ['hi', false],
            ['all', false],
          ],
        );
        assert.deepEqual((await memory.listAudit()).map((r) => r.outcome), ['ok']);
      });

      it('a provider without a chat API yields one chunk and done', async () => {
        const plain = new FakePlainProvider('ollama', 'whole answer');
        const { gateway, memory } = await setup({ ollama: plain });
        const events = await collect(gateway.stream(msg('hi')));
        assert.equal(events.length, 2);
        assert.ok(events[0]?.type === 'chunk' && events[0].chunk.done && events[0].chunk.content === 'whole answer');
        assert.ok(events[1]?.type === 'done' && events[1].message.text === 'whole answer');
        assert.equal((await memory.messages('conv')).length, 2);
      });

      it('all providers failing before any chunk stores nothing and audits each', async () => {
        const ollama = new FakeModelProvider('ollama', [{ error: 'unavailable' }]);
        const openai = new FakeModelProvider('openai', [{ error: 'server_error' }]);
        const { gateway, memory } = await setup({ ollama, openai }, { fallback: ['openai'] });
        await assert.rejects(collect(gateway.stream(msg('hi'))), (e: unknown) => e instanceof ProviderError && e.code === 'unavailable');
        assert.deepEqual((await memory.conversations()), []);
        assert.deepEqual((await memory.listAudit()).map((r) => r.outcome), ['unavailable', 'server_error']);
      });
    });

    describe('Gateway.chat and chatStream (whole requests, as a server receives them)', () => {
      const routed = (extra: Partial<RoutedChat> = {}): RoutedChat => ({
        request: { messages: [{ role: 'system', content: 'client system' }, { role: 'user', content: 'hello' }] },
        channel: 'serve:test',
        sender: '127.0.0.1',
        ...extra,
      });

      it('sends the client messages as they are, falls back, and audits under a request id outside any conversation', async () => {
        const ollama = new FakeModelProvider('ollama', [{ error: 'unavailable' }]);
        const openai = new FakeModelProvider('openai', [{ answer: 'hi there' }]);
        const { gateway, memory } = await setup({ ollama, openai }, { fallback: ['openai'] });
        const answer = await gateway.chat(routed({ request: { model: 'llama3', messages: routed().request.messages, options: { seed: 1 } }, requestId: 'req-1' }));
        assert.equal(answer.text, 'hi there');
        assert.equal(answer.metadata.providerUsed, 'openai');
        assert.deepEqual(answer.metadata.fallbackFrom, ['ollama']);
        assert.equal(answer.replyTarget, undefined);
        assert.equal(ollama.requests[0]?.model, 'llama3', 'the first provider gets the requested model');
        assert.equal(openai.requests[0]?.model, undefined, 'a fallback uses its configured model');
        assert.deepEqual(openai.requests[0]?.options, { seed: 1 });
        assert.deepEqual(openai.requests[0]?.messages, routed().request.messages);
        assert.deepEqual((await memory.conversations()), [], 'nothing stored without a conversation');
        const audit = await memory.listAudit({ conversationId: 'req-1' });
        assert.deepEqual(audit.map((r) => [r.provider, r.outcome, r.channel, r.sender]), [
          ['ollama', 'unavailable', 'serve:test', '127.0.0.1'],
          ['openai', 'ok', 'serve:test', '127.0.0.1'],
        ]);
      });

      it('with a conversation, puts remembered history after the client system messages and stores the exchange', async () => {
        const ollama = new FakeModelProvider('ollama', [{ answer: 'one' }, { chunks: ['t', 'wo'] }]);
        const { gateway, memory } = await setup({ ollama });
        await gateway.chat(routed({ conversationId: 'c1' }));
        const events = await collect(gateway.chatStream(routed({ conversationId: 'c1', request: { messages: [{ role: 'user', content: 'again' }] } })));
        assert.equal(chunkText(events), 'two');
        assert.deepEqual(ollama.requests[0]?.messages, routed().request.messages);
        assert.deepEqual(ollama.requests[1]?.messages, [
          { role: 'user', content: 'hello' },
          { role: 'assistant', content: 'one' },
          { role: 'user', content: 'again' },
        ]);
        assert.deepEqual((await memory.history('c1', 10)).map((m) => m.content), ['hello', 'one', 'again', 'two']);
        const done = events.at(-1);
        assert.ok(done?.type === 'done' && done.message.replyTarget === 'c1');
      });

      it('a stream cut mid-answer reaches the caller as the provider error, audited, with nothing stored outside a conversation', async () => {
        const ollama = new FakeModelProvider('ollama', [{ chunks: ['par', 'tial'], failWith: 'connection_lost' }]);
        const { gateway, memory } = await setup({ ollama });
        const seen: string[] = [];
        await assert.rejects(
          (async () => {
            for await (const e of gateway.chatStream(routed({ requestId: 'r2' }))) if (e.type === 'chunk') seen.push(e.chunk.content);
          })(),
          (e: unknown) => e instanceof ProviderError && e.code === 'connection_lost',
        );
        assert.deepEqual(seen, ['par', 'tial']);
        assert.deepEqual((await memory.conversations()), []);
        assert.deepEqual((await memory.listAudit({ conversationId: 'r2' })).map((r) => r.outcome), ['connection_lost']);
      });

      it('rejects a request without messages, channel or sender', async () => {
        const { gateway } = await setup({ ollama: new FakeModelProvider('ollama', []) });
        await assert.rejects(gateway.chat(routed({ request: { messages: [] } })), UsageError);
        await assert.rejects(gateway.chat(routed({ channel: '' })), UsageError);
        await assert.rejects(gateway.chat(routed({ sender: ' ' })), UsageError);
      });
    });
  });
}

describe('Gateway.open and close', () => {
  const dir = tempDir('omega-gateway-');
  let gateway: Gateway;
  const file = join(dir.path, 'data', 'memory.db');
  before(() => {
    gateway = Gateway.open(testConfig({ dbPath: file }));
  });
  after(async () => {
    await gateway.close();
  });

  it('opens memory at [memory] db_path and builds the default provider from config', () => {
    assert.ok(existsSync(file));
    assert.equal(gateway.memory?.location, file);
    assert.equal(gateway.memory?.backend, 'sqlite');
    const provider = gateway.provider();
    assert.equal(provider.name, 'ollama');
    assert.equal(gateway.provider('ollama'), provider, 'providers are cached');
  });

  it('runs without memory when asked', async () => {
    const bare = Gateway.open(testConfig({ dbPath: join(dir.path, 'never', 'memory.db') }), { memory: false });
    assert.equal(bare.memory, null);
    assert.ok(!existsSync(join(dir.path, 'never')));
    await bare.close();
  });

  it('close() closes built providers and the memory, not injected providers', async () => {
    const injected = new FakeModelProvider('ollama', []);
    const memory = SqliteMemory.open(':memory:');
    const g = new Gateway({ config: testConfig(), memory, providers: { ollama: injected } });
    await g.close();
    assert.equal(injected.closed, false);
    assert.throws(() => memory.history('x', 1));
  });
});
