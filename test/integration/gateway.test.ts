/**
 * The gateway against a real `ollama serve` (each version the runner tests) with the tiny generated model, and a real
 * SQLite memory file. Run by `npm test` with a shared server, or alone (it starts its own):
 *   node --import tsx --test test/integration/gateway.test.ts
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ProviderError } from '../../src/core/errors.js';
import { Gateway } from '../../src/gateway/gateway.js';
import type { GatewayEvent, IncomingMessage } from '../../src/gateway/gateway.js';
import { SqliteMemory } from '../../src/gateway/memory/sqlite.js';
import { OllamaProvider } from '../../src/providers/ollama/index.js';
import type { OmegaConfig } from '../../src/config/types.js';
import { ollamaSkipReason, useOllama } from '../support/ollama-harness.js';
import { tempDir, testConfig } from '../gateway/helpers.js';

const SKIP = ollamaSkipReason();
const SLOW = { timeout: 180_000, skip: SKIP };
const TIMEOUTS = { connectMs: 5000, loadMs: 120_000, idleMs: 60_000, requestMs: 0 };

function msg(conversationId: string, text: string, extra: Partial<IncomingMessage> = {}): IncomingMessage {
  return { channel: 'test', conversationId, sender: 'integration', text, ...extra };
}

async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Gateway against a real ollama serve', () => {
  const ollama = useOllama();
  const dir = tempDir('omega-gateway-it-');
  let config: OmegaConfig;
  let gateway: Gateway;

  before(() => {
    if (SKIP) return;
    config = testConfig({ ollamaUrl: ollama.url, dbPath: join(dir.path, 'memory.db'), maxContextMessages: 10 });
    config.provider.ollama.model = ollama.models.plain;
    config.provider.ollama.options = { num_predict: 16, temperature: 0 };
    config.provider.ollama.timeouts = TIMEOUTS;
    gateway = Gateway.open(config);
  });
  after(async () => {
    await gateway?.close();
  });

  test('handle() answers, stores the exchange, audits it, and sends the history next time', SLOW, async () => {
    const first = await gateway.handle(msg('h', 'Say hello.'));
    assert.equal(first.metadata.providerUsed, 'ollama');
    assert.equal(first.metadata.model, ollama.models.plain);
    assert.equal(first.replyTarget, 'h');
    assert.ok((first.metadata.completionTokens ?? 0) > 0, 'the model generated tokens');
    const memory = gateway.memory!;
    assert.deepEqual(
      (await memory.history('h', 10)).map((m) => [m.role, m.content]),
      [
        ['user', 'Say hello.'],
        ['assistant', first.text],
      ],
    );
    const second = await gateway.handle(msg('h', 'Say hello.'));
    // Same question, but now after one exchange of history: the prompt is longer.
    assert.ok(
      (second.metadata.promptTokens ?? 0) > (first.metadata.promptTokens ?? 0),
      `prompt tokens ${second.metadata.promptTokens} vs ${first.metadata.promptTokens}`,
    );
    assert.deepEqual(
      (await memory.listAudit({ conversationId: 'h' })).map((r) => [r.provider, r.model, r.outcome, (r.completionTokens ?? 0) > 0]),
      [
        ['ollama', ollama.models.plain, 'ok', true],
        ['ollama', ollama.models.plain, 'ok', true],
      ],
    );
  });

  test('stream() yields the chunks of the answer and then done; the exchange is stored', SLOW, async () => {
    const events: GatewayEvent[] = [];
    for await (const e of gateway.stream(msg('s', 'Count to five.'))) events.push(e);
    const done = events.at(-1);
    assert.ok(done?.type === 'done');
    const chunks = events.filter((e): e is Extract<GatewayEvent, { type: 'chunk' }> => e.type === 'chunk');
    assert.ok(chunks.length >= 2, 'at least one text chunk and the final one');
    assert.equal(chunks.map((c) => c.chunk.content).join(''), done.message.text);
    assert.equal(chunks.at(-1)?.chunk.done, true);
    assert.deepEqual(
      (await gateway.memory!.messages('s')).map((m) => [m.role, m.content, m.interrupted]),
      [
        ['user', 'Count to five.', false],
        ['assistant', done.message.text, false],
      ],
    );
  });

  test('stream() left after the first chunk stores the partial answer as interrupted', SLOW, async () => {
    let first = '';
    for await (const e of gateway.stream(msg('i', 'Tell me a long story.'))) {
      if (e.type === 'chunk' && !e.chunk.done) {
        first = e.chunk.content;
        break;
      }
    }
    const stored = await gateway.memory!.messages('i');
    assert.deepEqual(
      stored.map((m) => [m.role, m.content, m.interrupted]),
      [
        ['user', 'Tell me a long story.', false],
        ['assistant', first, true],
      ],
    );
    assert.equal(stored[1]?.metadata?.doneReason, 'interrupted');
    assert.deepEqual((await gateway.memory!.listAudit({ conversationId: 'i' })).map((r) => r.outcome), ['aborted']);
  });

  test('an unknown model is model_not_found: no fallback, nothing stored, audited', SLOW, async () => {
    await assert.rejects(
      gateway.handle(msg('nf', 'hi', { model: 'omega-no-such-model' })),
      (e: unknown) => e instanceof ProviderError && e.code === 'model_not_found',
    );
    assert.deepEqual(await gateway.memory!.messages('nf'), []);
    assert.deepEqual(
      (await gateway.memory!.listAudit({ conversationId: 'nf' })).map((r) => [r.model, r.outcome]),
      [['omega-no-such-model', 'model_not_found']],
    );
  });

  test('falls back from a stopped Ollama to a running one', SLOW, async () => {
    const down = new OllamaProvider({ baseUrl: `http://127.0.0.1:${await deadPort()}`, model: ollama.models.plain });
    const up = new OllamaProvider({
      baseUrl: ollama.url,
      model: ollama.models.plain,
      options: { num_predict: 8 },
      timeouts: TIMEOUTS,
    });
    const fallbackConfig = structuredClone(config);
    fallbackConfig.provider.openai.enabled = true;
    fallbackConfig.provider.fallback = ['openai'];
    const memory = SqliteMemory.open(join(dir.path, 'fallback.db'));
    const g = new Gateway({ config: fallbackConfig, memory, providers: { ollama: down, openai: up } });
    try {
      const answer = await g.handle(msg('f', 'hi'));
      assert.equal(answer.metadata.providerUsed, 'openai');
      assert.deepEqual(answer.metadata.fallbackFrom, ['ollama']);
      assert.deepEqual(memory.listAudit().map((r) => [r.provider, r.outcome]), [
        ['ollama', 'unavailable'],
        ['openai', 'ok'],
      ]);
    } finally {
      await g.close();
      await down.close();
      await up.close();
    }
  });
});
