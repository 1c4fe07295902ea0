import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OpenAIProvider, guessCapabilities } from '../../../src/providers/openai/index.js';
import { ProviderError } from '../../../src/core/errors.js';
import { isModelProvider } from '../../../src/core/types.js';
import { FakeOpenAI, errorScript } from '../../support/fake-openai.js';

const KEY = 'sk-test-models-0123456789';

let fake: FakeOpenAI;
before(async () => {
  fake = await FakeOpenAI.start();
});
after(async () => {
  await fake.close();
});

function provider(extra: ConstructorParameters<typeof OpenAIProvider>[0] = {}): OpenAIProvider {
  return new OpenAIProvider({ apiKey: KEY, baseUrl: fake.url, env: {}, ...extra });
}

test('listModels: GET /models with the key, sorted, hosted (local false), no price, capabilities from the name', async () => {
  fake.once('GET', '/models', {
    body: {
      object: 'list',
      data: [
        { id: 'text-embedding-3-small', object: 'model', created: 1705948997, owned_by: 'system' },
        { id: 'gpt-4o-mini', object: 'model', created: 1721172741, owned_by: 'system' },
        { id: 'o3-mini', object: 'model', created: 1737146383, owned_by: 'system' },
        { id: 'whisper-1', object: 'model', created: 1677532384, owned_by: 'openai-internal' },
        { object: 'model' },
      ],
    },
  });
  const p = provider({ headers: { 'OpenAI-Organization': 'org-x' } });
  assert.ok(isModelProvider(p));
  const models = await p.listModels();
  const req = fake.last('/models');
  assert.equal(req.method, 'GET');
  assert.equal(req.headers.authorization, `Bearer ${KEY}`);
  assert.equal(req.headers['openai-organization'], 'org-x');
  assert.deepEqual(
    models.map((m) => m.id),
    ['openai/gpt-4o-mini', 'openai/o3-mini', 'openai/text-embedding-3-small', 'openai/whisper-1'],
  );
  for (const m of models) {
    assert.equal(m.provider, 'openai');
    assert.equal(m.local, false);
    assert.equal(m.pricing, null);
  }
  const byName = new Map(models.map((m) => [m.name, m]));
  assert.deepEqual(byName.get('gpt-4o-mini')?.capabilities, {
    chat: true,
    vision: true,
    tools: true,
    embeddings: false,
    streaming: true,
    thinking: false,
  });
  assert.equal(byName.get('o3-mini')?.capabilities.thinking, true);
  assert.equal(byName.get('text-embedding-3-small')?.capabilities.embeddings, true);
  assert.equal(byName.get('text-embedding-3-small')?.capabilities.chat, false);
  assert.equal(byName.get('whisper-1')?.capabilities.chat, false);
  assert.equal(byName.get('gpt-4o-mini')?.modifiedAt, new Date(1721172741 * 1000).toISOString());
  await p.close();
});

test('compatible servers: a context length they report is kept; unknown names are plain chat models', async () => {
  fake.once('GET', '/models', {
    body: { data: [{ id: 'qwen2.5:7b', owned_by: 'library', max_model_len: 32768 }, { id: 'mistral', context_length: 8192 }] },
  });
  const p = provider();
  const models = await p.listModels();
  assert.deepEqual(
    models.map((m) => [m.name, m.contextWindow]),
    [
      ['mistral', 8192],
      ['qwen2.5:7b', 32768],
    ],
  );
  assert.deepEqual(guessCapabilities('mistral'), {
    chat: true,
    vision: false,
    tools: false,
    embeddings: false,
    streaming: true,
    thinking: false,
  });
  await p.close();
});

test('listModels: a body without a list is a protocol error; an error status is mapped', async () => {
  fake.once('GET', '/models', { body: { object: 'list' } });
  fake.once('GET', '/models', errorScript(401, 'bad key'));
  fake.once('GET', '/models', { body: 'not json' });
  const p = provider();
  await assert.rejects(p.listModels(), (e: unknown) => e instanceof ProviderError && e.code === 'protocol');
  await assert.rejects(p.listModels(), (e: unknown) => e instanceof ProviderError && e.code === 'auth');
  await assert.rejects(p.listModels(), (e: unknown) => e instanceof ProviderError && e.code === 'protocol');
  await p.close();
});

test('isAvailable: true on 200, false on 401, on a hang past its limit, and when aborted; never throws', async () => {
  fake.once('GET', '/models', { body: { data: [] } });
  fake.once('GET', '/models', errorScript(401, 'bad key'));
  fake.once('GET', '/models', { hang: true });
  fake.once('GET', '/models', { hang: true });
  const p = provider();
  assert.equal(await p.isAvailable(), true);
  assert.equal(fake.last('/models').headers.authorization, `Bearer ${KEY}`);
  assert.equal(await p.isAvailable(), false);
  const start = Date.now();
  assert.equal(await p.isAvailable({ timeoutMs: 100 }), false);
  assert.ok(Date.now() - start < 5000);
  const ac = new AbortController();
  const pending = p.isAvailable({ signal: ac.signal, timeoutMs: 10_000 });
  setTimeout(() => ac.abort(), 20);
  assert.equal(await pending, false);
  await p.close();
  assert.equal(await p.isAvailable(), false, 'a closed provider is not available');
});
