/**
 * The gateway with the real OllamaProvider against the scripted fake Ollama server: the
 * provider's own error mapping decides what falls back and what is stored.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ProviderError } from '../../src/core/errors.js';
import { Gateway } from '../../src/gateway/gateway.js';
import type { IncomingMessage } from '../../src/gateway/gateway.js';
import { SqliteMemory } from '../../src/gateway/memory/sqlite.js';
import { OllamaProvider } from '../../src/providers/ollama/index.js';
import { FakeOllama, chatLine, chatStreamScript, doneLine, ndjson } from '../support/fake-ollama.js';
import { testConfig } from './helpers.js';

function msg(text: string, extra: Partial<IncomingMessage> = {}): IncomingMessage {
  return { channel: 'cli', conversationId: 'conv', sender: 'alice', text, ...extra };
}

/** A loopback port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Gateway with OllamaProvider against a fake Ollama', () => {
  let fake: FakeOllama;
  const providers: OllamaProvider[] = [];
  const ollama = (baseUrl: string, model = 'llama3'): OllamaProvider => {
    const p = new OllamaProvider({ baseUrl, model, timeouts: { connectMs: 2000, loadMs: 5000, idleMs: 5000 } });
    providers.push(p);
    return p;
  };

  before(async () => {
    fake = await FakeOllama.start();
  });
  after(async () => {
    for (const p of providers) await p.close();
    await fake.close();
  });

  it('handle(): builds the provider from config, sends the history window, stores and audits', async () => {
    fake.once('POST', '/api/chat', chatStreamScript(['Hi', ' there']));
    const memory = SqliteMemory.open(':memory:');
    memory.saveExchange({
      conversationId: 'conv',
      channel: 'cli',
      sender: 'alice',
      user: { role: 'user', content: 'old question' },
      assistant: { role: 'assistant', content: 'old answer' },
      metadata: { providerUsed: 'ollama', model: 'llama3', processingTimeMs: 1 },
    });
    const gateway = new Gateway({ config: testConfig({ ollamaUrl: fake.url, maxContextMessages: 1 }), memory });
    try {
      const answer = await gateway.handle(msg('new question'));
      const body = fake.requestsTo('/api/chat').at(-1)?.json as { model: string; messages: unknown[] };
      assert.equal(body.model, 'llama-config');
      assert.deepEqual(body.messages, [
        { role: 'system', content: 'You are a test.' },
        { role: 'assistant', content: 'old answer' },
        { role: 'user', content: 'new question' },
      ]);
      assert.equal(answer.text, 'Hi there');
      assert.equal(answer.metadata.providerUsed, 'ollama');
      assert.equal(answer.metadata.promptTokens, 10);
      assert.equal(answer.metadata.completionTokens, 20);
      assert.equal(answer.replyTarget, 'conv');
      assert.deepEqual(memory.history('conv', 2), [
        { role: 'user', content: 'new question' },
        { role: 'assistant', content: 'Hi there' },
      ]);
      // A success records the model the server reports (the fake always says llama3).
      assert.deepEqual(
        memory.listAudit().map((r) => [r.provider, r.model, r.outcome, r.promptTokens, r.completionTokens]),
        [['ollama', 'llama3', 'ok', 10, 20]],
      );
    } finally {
      await gateway.close();
    }
  });

  it('falls back when Ollama is not running (connection refused -> unavailable)', async () => {
    fake.once('POST', '/api/chat', chatStreamScript(['from the backup']));
    const memory = SqliteMemory.open(':memory:');
    const gateway = new Gateway({
      config: testConfig({ enabled: ['ollama', 'openai'], fallback: ['openai'] }),
      memory,
      providers: { ollama: ollama(`http://127.0.0.1:${await deadPort()}`), openai: ollama(fake.url, 'backup') },
    });
    const answer = await gateway.handle(msg('hello'));
    assert.equal(answer.text, 'from the backup');
    assert.equal(answer.metadata.providerUsed, 'openai');
    assert.deepEqual(answer.metadata.fallbackFrom, ['ollama']);
    const audit = memory.listAudit();
    assert.deepEqual(
      audit.map((r) => [r.provider, r.model, r.outcome]),
      [
        ['ollama', 'llama3', 'unavailable'],
        ['openai', answer.metadata.model, 'ok'],
      ],
    );
    assert.equal((fake.requestsTo('/api/chat').at(-1)?.json as { model: string }).model, 'backup');
    assert.ok(audit[0]?.errorMessage !== undefined && audit[0].errorMessage.length > 0);
    memory.close();
  });

  it('falls back on 503 "server busy" and not on 404 "model not found"', async () => {
    fake.once('POST', '/api/chat', {
      status: 503,
      body: { error: 'server busy, please try again.  maximum pending requests exceeded' },
    });
    fake.once('POST', '/api/chat', chatStreamScript(['second server']));
    const memory = SqliteMemory.open(':memory:');
    const gateway = new Gateway({
      config: testConfig({ enabled: ['ollama', 'openai'], fallback: ['openai'] }),
      memory,
      providers: { ollama: ollama(fake.url), openai: ollama(fake.url, 'other') },
    });
    const answer = await gateway.handle(msg('one'));
    assert.equal(answer.metadata.providerUsed, 'openai');
    assert.deepEqual(memory.listAudit().map((r) => r.outcome), ['busy', 'ok']);

    const before = fake.requestsTo('/api/chat').length;
    fake.once('POST', '/api/chat', { status: 404, body: { error: 'model "nope" not found, try pulling it first' } });
    await assert.rejects(
      gateway.handle(msg('two', { conversationId: 'c2', model: 'nope' })),
      (e: unknown) => e instanceof ProviderError && e.code === 'model_not_found',
    );
    assert.equal(fake.requestsTo('/api/chat').length, before + 1, 'no fallback request');
    assert.deepEqual(memory.messages('c2'), []);
    assert.deepEqual(memory.listAudit({ conversationId: 'c2' }).map((r) => [r.model, r.outcome]), [['nope', 'model_not_found']]);
    memory.close();
  });

  it('stream(): leaving early closes the HTTP request and stores the partial answer as interrupted', async () => {
    fake.once('POST', '/api/chat', {
      steps: [{ write: ndjson(chatLine('Once '), chatLine('upon ')) }, { hang: true }],
    });
    const memory = SqliteMemory.open(':memory:');
    const gateway = new Gateway({ config: testConfig(), memory, providers: { ollama: ollama(fake.url) } });
    let chunks = 0;
    for await (const e of gateway.stream(msg('tell a story'))) {
      if (e.type === 'chunk' && ++chunks === 2) break;
    }
    const request = fake.requestsTo('/api/chat').at(-1);
    await fake.waitFor(() => request?.closedEarly === true, 5000, 'the client to hang up');
    assert.deepEqual(
      memory.messages('conv').map((m) => [m.role, m.content, m.interrupted, m.metadata?.doneReason]),
      [
        ['user', 'tell a story', false, undefined],
        ['assistant', 'Once upon ', true, 'interrupted'],
      ],
    );
    assert.deepEqual(memory.listAudit().map((r) => r.outcome), ['aborted']);
    memory.close();
  });

  it('stream(): an error line mid-answer is not a fallback; the partial answer is stored as interrupted', async () => {
    fake.once('POST', '/api/chat', {
      steps: [{ write: ndjson(chatLine('Half'), { error: 'model runner has unexpectedly stopped' }) }],
    });
    const memory = SqliteMemory.open(':memory:');
    const backup = ollama(fake.url, 'backup');
    const gateway = new Gateway({
      config: testConfig({ enabled: ['ollama', 'openai'], fallback: ['openai'] }),
      memory,
      providers: { ollama: ollama(fake.url), openai: backup },
    });
    const before = fake.requestsTo('/api/chat').length;
    await assert.rejects(
      (async () => {
        for await (const e of gateway.stream(msg('go'))) void e;
      })(),
      (e: unknown) => e instanceof ProviderError && e.provider === 'ollama',
    );
    assert.equal(fake.requestsTo('/api/chat').length, before + 1);
    assert.deepEqual(
      memory.messages('conv').map((m) => [m.content, m.interrupted]),
      [
        ['go', false],
        ['Half', true],
      ],
    );
    const [record] = memory.listAudit();
    assert.equal(record?.provider, 'ollama');
    assert.notEqual(record?.outcome, 'ok');
    assert.equal(record?.outcome, record?.errorCode);
    memory.close();
  });

  it('stream(): cancelling with the signal stores the partial answer as interrupted', async () => {
    fake.once('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('Begin')) }, { hang: true }] });
    const memory = SqliteMemory.open(':memory:');
    const gateway = new Gateway({ config: testConfig(), memory, providers: { ollama: ollama(fake.url) } });
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
      memory.messages('conv').map((m) => [m.content, m.interrupted]),
      [
        ['go', false],
        ['Begin', true],
      ],
    );
    assert.deepEqual(memory.listAudit().map((r) => r.outcome), ['aborted']);
    memory.close();
  });

  it('stream(): a whole answer streams, then done with the usage of the final line', async () => {
    fake.once('POST', '/api/chat', {
      steps: [{ write: ndjson(chatLine('A')) }, { delay: 20 }, { write: ndjson(chatLine('B'), doneLine({ eval_count: 2 })) }],
    });
    const memory = SqliteMemory.open(':memory:');
    const gateway = new Gateway({ config: testConfig(), memory, providers: { ollama: ollama(fake.url) } });
    const texts: string[] = [];
    let done = false;
    for await (const e of gateway.stream(msg('ab'))) {
      if (e.type === 'chunk') texts.push(e.chunk.content);
      else {
        assert.equal(e.message.text, 'AB');
        assert.equal(e.message.metadata.completionTokens, 2);
        assert.equal(e.message.metadata.doneReason, 'stop');
        done = true;
      }
    }
    assert.equal(done, true);
    assert.equal(texts.join(''), 'AB');
    assert.deepEqual(memory.history('conv', 5), [
      { role: 'user', content: 'ab' },
      { role: 'assistant', content: 'AB' },
    ]);
    memory.close();
  });
});
