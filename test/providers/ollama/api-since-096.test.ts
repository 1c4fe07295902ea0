/**
 * The API Ollama added after 0.9.6 (up to 0.17.4), against a fake server speaking the newer
 * wire: what Omega sends only when asked, and what it reads from newer answers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OllamaProvider } from '../../../src/providers/ollama/index.js';
import { isProviderError } from '../../../src/core/errors.js';
import type { ChatChunk } from '../../../src/core/types.js';
import { buildChatBody, toCapabilities, toModelInfo, toRunningModel } from '../../../src/providers/ollama/wire.js';
import { FakeOllama, chatAnswer, chatLine, doneLine } from '../../support/fake-ollama.js';

let fake: FakeOllama;
before(async () => {
  fake = await FakeOllama.start();
});
after(async () => {
  await fake.close();
});

function provider(): OllamaProvider {
  return new OllamaProvider({ baseUrl: fake.url, env: {}, model: 'm' });
}

const LOGPROBS = [{ token: 'Hi', logprob: -0.25, bytes: [72, 105], top_logprobs: [{ token: 'Hi', logprob: -0.25 }, { token: 'Yo', logprob: -1.5 }] }];

test('truncate, shift, logprobs and top_logprobs are sent only when the request sets them', () => {
  const plain = buildChatBody({ messages: [{ role: 'user', content: 'x' }] }, { model: 'm' }, true);
  for (const key of ['truncate', 'shift', 'logprobs', 'top_logprobs']) assert.equal(key in plain, false, key);
  const set = buildChatBody(
    { messages: [{ role: 'user', content: 'x' }], truncate: false, shift: false, logprobs: true, topLogprobs: 2 },
    { model: 'm' },
    true,
  );
  assert.equal(set.truncate, false);
  assert.equal(set.shift, false);
  assert.equal(set.logprobs, true);
  assert.equal(set.top_logprobs, 2);
});

test('streamed logprobs arrive on their chunks, typed; the non-streamed answer carries them too', async () => {
  fake.once('POST', '/api/chat', chatAnswer([chatLine('Hi', { logprobs: LOGPROBS }), doneLine({ done_reason: 'stop' })]));
  const chunks: ChatChunk[] = [];
  for await (const c of provider().chatStream({ messages: [{ role: 'user', content: 'x' }], logprobs: true, topLogprobs: 2 })) chunks.push(c);
  assert.deepEqual(chunks[0]?.logprobs, [
    { token: 'Hi', logprob: -0.25, bytes: [72, 105], topLogprobs: [{ token: 'Hi', logprob: -0.25 }, { token: 'Yo', logprob: -1.5 }] },
  ]);
  assert.equal(chunks.at(-1)?.logprobs, undefined);
  const sent = fake.requestsTo('/api/chat').at(-1)?.json as Record<string, unknown>;
  assert.equal(sent.logprobs, true);
  assert.equal(sent.top_logprobs, 2);

  fake.once('POST', '/api/chat', {
    body: { model: 'm', message: { role: 'assistant', content: 'Hi' }, done: true, done_reason: 'stop', logprobs: LOGPROBS },
  });
  const res = await provider().chat({ messages: [{ role: 'user', content: 'x' }], logprobs: true });
  assert.equal(res.logprobs?.[0]?.token, 'Hi');
  assert.equal(res.logprobs?.[0]?.topLogprobs?.length, 2);
});

test('the image capability, cloud models (local: false, where they run) and the allocated context', () => {
  assert.equal(toCapabilities(['image']).imageGeneration, true);
  assert.equal('imageGeneration' in toCapabilities(['completion', 'tools']), false);
  const cloud = toModelInfo(
    { name: 'gpt-oss:120b-cloud', remote_host: 'https://ollama.com:443', remote_model: 'gpt-oss:120b' },
    { capabilities: ['completion', 'tools', 'thinking'] },
  );
  assert.equal(cloud.local, false);
  assert.equal(cloud.remoteHost, 'https://ollama.com:443');
  assert.equal(cloud.remoteModel, 'gpt-oss:120b');
  assert.equal(toModelInfo({ name: 'llama3' }, undefined).local, true);
  assert.equal(toRunningModel({ name: 'm', context_length: 8192 }).contextLength, 8192);
  assert.equal('contextLength' in toRunningModel({ name: 'm' }), false);
});

test('show() reports where a cloud model runs; ps() the allocated context', async () => {
  fake.once('POST', '/api/show', {
    body: { capabilities: ['completion'], model_info: {}, remote_host: 'https://ollama.com:443', remote_model: 'glm-4.7' },
  });
  const details = await provider().show('glm-4.7:cloud');
  assert.equal(details.remoteHost, 'https://ollama.com:443');
  assert.equal(details.remoteModel, 'glm-4.7');
  fake.once('GET', '/api/ps', { body: { models: [{ name: 'm:latest', model: 'm:latest', context_length: 4096 }] } });
  assert.equal((await provider().ps())[0]?.contextLength, 4096);
});

test('embed() sends dimensions when asked', async () => {
  fake.once('POST', '/api/embed', { body: { model: 'e', embeddings: [[0.6, 0.8]] } });
  const out = await provider().embed('e', 'hello', { dimensions: 2 });
  assert.deepEqual(out.embeddings, [[0.6, 0.8]]);
  assert.equal((fake.requestsTo('/api/embed').at(-1)?.json as Record<string, unknown>).dimensions, 2);
});

test('status() reads /api/status; a server without it is a protocol error that says so', async () => {
  fake.once('GET', '/api/status', { body: { cloud: { disabled: true, source: 'env' } } });
  assert.deepEqual(await provider().status(), { cloud: { disabled: true, source: 'env' } });
  fake.once('GET', '/api/status', { status: 404, headers: { 'content-type': 'text/plain' }, body: '404 page not found' });
  await assert.rejects(provider().status(), (e: unknown) => isProviderError(e, 'protocol') && /has no GET \/api\/status/.test(e.message));
});

test('cloud model errors are their own cases: sign in, cloud disabled, remote host not allowed', async () => {
  const signin = 'https://ollama.com/connect?name=box&key=c3NoLWVkMjU1MTk';
  fake.once('POST', '/api/chat', { status: 401, body: { error: 'unauthorized', signin_url: signin } });
  await assert.rejects(provider().chat({ model: 'gpt-oss:120b-cloud', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => {
    assert.ok(isProviderError(e, 'auth'));
    assert.match(e.message, /Run `ollama signin`/);
    assert.ok(e.message.includes(signin), e.message);
    assert.ok(e.message.includes("'gpt-oss:120b-cloud'"), e.message);
    assert.equal(e.retryable, false);
    return true;
  });

  fake.once('POST', '/api/chat', { status: 403, body: { error: 'ollama cloud is disabled: remote model is unavailable' } });
  await assert.rejects(provider().chat({ model: 'glm-4.7:cloud', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => {
    assert.ok(isProviderError(e, 'unsupported'));
    assert.match(e.message, /OLLAMA_NO_CLOUD/);
    return true;
  });

  fake.once('POST', '/api/chat', { status: 400, body: { error: 'this server cannot run this remote model' } });
  await assert.rejects(provider().chat({ model: 'x:cloud', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => {
    assert.ok(isProviderError(e, 'unsupported'));
    assert.match(e.message, /OLLAMA_REMOTES/);
    return true;
  });

  // A 401 without a sign-in link is still the ordinary auth case (a proxy's, say).
  fake.once('POST', '/api/chat', { status: 401, headers: { 'content-type': 'text/plain' }, body: 'Unauthorized' });
  await assert.rejects(provider().chat({ messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => {
    assert.ok(isProviderError(e, 'auth'));
    assert.doesNotMatch(e.message, /signin/);
    return true;
  });
});

test('a thinking level the model does not take (0.11+) is unsupported, saying to send true or false', async () => {
  fake.once('POST', '/api/chat', { status: 400, body: { error: 'think value "high" is not supported for this model' } });
  await assert.rejects(provider().chat({ model: 'qwen3', think: 'high', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => {
    assert.ok(isProviderError(e, 'unsupported'));
    assert.match(e.message, /Model 'qwen3' does not take the thinking level "high"/);
    assert.match(e.message, /true or false/);
    return true;
  });
});
