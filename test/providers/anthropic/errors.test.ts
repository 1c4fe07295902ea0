import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { pino } from 'pino';
import { AnthropicProvider } from '../../../src/providers/anthropic/index.js';
import type { AnthropicProviderOptions } from '../../../src/providers/anthropic/index.js';
import { ConfigError, ProviderError, isProviderError } from '../../../src/core/errors.js';
import type { Logger } from '../../../src/core/logger.js';
import type { ChatChunk } from '../../../src/core/types.js';
import { FAKE_KEY, FakeAnthropic, answerEvents, answerWith, errorBody, sse, unusedPort } from '../../support/fake-anthropic.js';

let fake: FakeAnthropic;
before(async () => {
  fake = await FakeAnthropic.start();
});
after(async () => {
  await fake.close();
});

function provider(extra: AnthropicProviderOptions = {}): AnthropicProvider {
  return new AnthropicProvider({ apiKey: FAKE_KEY, baseUrl: fake.url, env: {}, ...extra });
}

async function chatError(p: AnthropicProvider, model?: string): Promise<ProviderError> {
  try {
    await p.chat({ messages: [{ role: 'user', content: 'x' }], ...(model === undefined ? {} : { model }) });
  } catch (error) {
    assert.ok(error instanceof ProviderError, String(error));
    return error;
  }
  assert.fail('expected the call to fail');
}

async function collect(it: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

test('a missing key is a ConfigError naming provider.anthropic.api_key and ANTHROPIC_API_KEY', () => {
  assert.throws(
    () => new AnthropicProvider({ env: {} }),
    (e) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.key, 'provider.anthropic.api_key');
      assert.match(e.message, /ANTHROPIC_API_KEY/);
      assert.match(e.message, /provider\.anthropic\.api_key/);
      return true;
    },
  );
  assert.throws(() => new AnthropicProvider({ apiKey: '  ', env: {} }), ConfigError);
  // The environment variable is read when no key is given.
  const p = new AnthropicProvider({ env: { ANTHROPIC_API_KEY: FAKE_KEY } });
  assert.equal(p.requiresApiKey, true);
  assert.throws(() => new AnthropicProvider({ apiKey: 'k', baseUrl: 'ftp://x', env: {} }), ConfigError);
  assert.throws(() => new AnthropicProvider({ apiKey: 'k', baseUrl: 'not a url', env: {} }), ConfigError);
});

test('401 is auth and says to set ANTHROPIC_API_KEY; 403 is auth too', async () => {
  const p = provider({ apiKey: 'sk-ant-wrong-key-0123456789abcdef' });
  const err = await chatError(p);
  assert.equal(err.code, 'auth');
  assert.equal(err.status, 401);
  assert.equal(err.retryable, false);
  assert.match(err.message, /set ANTHROPIC_API_KEY/);
  assert.match(err.message, /invalid x-api-key/);
  await p.close();

  fake.once('POST', '/v1/messages', { status: 403, body: errorBody('permission_error', 'Your key cannot use this model') });
  const q = provider();
  const forbidden = await chatError(q);
  assert.equal(forbidden.code, 'auth');
  assert.match(forbidden.message, /ANTHROPIC_API_KEY/);
  await q.close();
});

test('429 is rate_limited, retryable, honouring Retry-After', async () => {
  fake.once('POST', '/v1/messages', {
    status: 429,
    headers: { 'retry-after': '7' },
    body: errorBody('rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit'),
  });
  const p = provider();
  const err = await chatError(p);
  assert.equal(err.code, 'rate_limited');
  assert.equal(err.retryable, true);
  assert.equal(err.retryAfterMs, 7000);
  assert.match(err.message, /wait 7 s/);
  fake.once('POST', '/v1/messages', { status: 429, body: errorBody('rate_limit_error', 'slow down') });
  const noHeader = await chatError(p);
  assert.equal(noHeader.code, 'rate_limited');
  assert.equal(noHeader.retryAfterMs, undefined);
  await p.close();
});

test('529 and overloaded_error are busy; other 5xx server_error; all retryable', async () => {
  const p = provider();
  fake.once('POST', '/v1/messages', { status: 529, body: errorBody('overloaded_error', 'Overloaded') });
  const busy = await chatError(p);
  assert.equal(busy.code, 'busy');
  assert.equal(busy.retryable, true);
  assert.equal(busy.status, 529);
  fake.once('POST', '/v1/messages', { status: 500, body: errorBody('api_error', 'Internal server error') });
  const server = await chatError(p);
  assert.equal(server.code, 'server_error');
  assert.equal(server.retryable, true);
  assert.match(server.message, /Internal server error/);
  fake.once('POST', '/v1/messages', { status: 502, headers: { 'content-type': 'text/html' }, body: '<html><title>502 Bad Gateway</title></html>' });
  const gateway = await chatError(p);
  assert.equal(gateway.code, 'server_error');
  assert.match(gateway.message, /502 Bad Gateway/);
  await p.close();
});

test('404 not_found_error for the model is model_not_found; a wrong path is protocol', async () => {
  const p = provider();
  fake.once('POST', '/v1/messages', { status: 404, body: errorBody('not_found_error', 'model: claude-nope') });
  const missing = await chatError(p, 'claude-nope');
  assert.equal(missing.code, 'model_not_found');
  assert.match(missing.message, /'claude-nope'/);
  assert.match(missing.message, /provider\.anthropic\.model/);
  const wrongBase = provider({ baseUrl: `${fake.url}/proxy` });
  const err = await chatError(wrongBase);
  assert.equal(err.code, 'protocol');
  assert.match(err.message, /provider\.anthropic\.base_url/);
  await p.close();
  await wrongBase.close();
});

test('400 invalid_request_error is bad_request with the API message', async () => {
  fake.once('POST', '/v1/messages', {
    status: 400,
    body: errorBody('invalid_request_error', 'messages: roles must alternate between "user" and "assistant"'),
  });
  const p = provider();
  const err = await chatError(p);
  assert.equal(err.code, 'bad_request');
  assert.equal(err.retryable, false);
  assert.equal(err.message, 'Anthropic rejected the request: messages: roles must alternate between "user" and "assistant".');
  assert.equal(err.providerMessage, 'messages: roles must alternate between "user" and "assistant"');
  await p.close();
});

test('HTTP errors of a streamed call are thrown on the first next()', async () => {
  fake.once('POST', '/v1/messages', { status: 529, body: errorBody('overloaded_error', 'Overloaded') });
  const p = provider();
  await assert.rejects(collect(p.chatStream({ messages: [{ role: 'user', content: 'x' }] })), (e) => isProviderError(e, 'busy'));
  await p.close();
});

test('connection refused is unavailable and retryable', async () => {
  const port = await unusedPort();
  const p = provider({ baseUrl: `http://127.0.0.1:${port}` });
  const err = await chatError(p);
  assert.equal(err.code, 'unavailable');
  assert.equal(err.retryable, true);
  assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  await assert.rejects(collect(p.chatStream({ messages: [{ role: 'user', content: 'x' }] })), (e) => isProviderError(e, 'unavailable'));
  assert.equal(await p.isAvailable(), false);
  await p.close();
});

test('a malformed body is a protocol error', async () => {
  const p = provider();
  fake.once('POST', '/v1/messages', { body: 'not json' });
  assert.equal((await chatError(p)).code, 'protocol');
  fake.once('POST', '/v1/messages', { steps: [{ write: 'event: message_start\ndata: {not json\n\n' }] });
  await assert.rejects(collect(p.chatStream({ messages: [{ role: 'user', content: 'x' }] })), (e) => isProviderError(e, 'protocol'));
  await p.close();
});

test('isAvailable(): GET /v1/models?limit=1 with the key; false on 401, never throws', async () => {
  fake.route('GET', '/v1/models', { body: { data: [{ id: 'claude-haiku-4-5' }], has_more: true, last_id: 'claude-haiku-4-5' } });
  const p = provider();
  assert.equal(await p.isAvailable(), true);
  const req = fake.last('/v1/models');
  assert.equal(req.query.get('limit'), '1');
  assert.equal(req.headers['x-api-key'], FAKE_KEY);
  assert.equal(req.headers['anthropic-version'], '2023-06-01');
  const wrong = provider({ apiKey: 'sk-ant-wrong-0123456789' });
  assert.equal(await wrong.isAvailable(), false);
  fake.once('GET', '/v1/models', { hang: true });
  assert.equal(await p.isAvailable({ timeoutMs: 100 }), false);
  assert.equal(await p.isAvailable({ signal: AbortSignal.abort() }), false);
  await p.close();
  await wrong.close();
});

test('listModels(): follows pages with after_id; every model remote', async () => {
  fake.once('GET', '/v1/models', {
    body: {
      data: [
        { type: 'model', id: 'claude-sonnet-4-5-20250929', display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' },
        { type: 'model', id: 'claude-opus-4-1-20250805', display_name: 'Claude Opus 4.1', created_at: '2025-08-05T00:00:00Z' },
      ],
      has_more: true,
      first_id: 'claude-sonnet-4-5-20250929',
      last_id: 'claude-opus-4-1-20250805',
    },
  });
  fake.once('GET', '/v1/models', {
    body: { data: [{ type: 'model', id: 'claude-3-haiku-20240307', display_name: 'Claude Haiku 3' }], has_more: false, last_id: 'claude-3-haiku-20240307' },
  });
  const p = provider();
  const start = fake.requests.length;
  const models = await p.listModels();
  const reqs = fake.requests.slice(start);
  assert.equal(reqs.length, 2);
  assert.equal(reqs[0]!.query.get('after_id'), null);
  assert.equal(reqs[1]!.query.get('after_id'), 'claude-opus-4-1-20250805');
  assert.deepEqual(
    models.map((m) => m.id),
    ['anthropic/claude-sonnet-4-5-20250929', 'anthropic/claude-opus-4-1-20250805', 'anthropic/claude-3-haiku-20240307'],
  );
  for (const m of models) {
    assert.equal(m.local, false);
    assert.equal(m.provider, 'anthropic');
    assert.equal(m.contextWindow, 200_000);
  }
  fake.once('GET', '/v1/models', { status: 401, body: errorBody('authentication_error', 'invalid x-api-key') });
  await assert.rejects(p.listModels(), (e) => isProviderError(e, 'auth'));
  await p.close();
});

test('the key never appears in logs, errors or the provider itself, even when the server echoes it', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (s: string) => void lines.push(s) }) as unknown as Logger;
  const p = provider({ logger });
  const texts: string[] = [inspect(p, { depth: 10, showHidden: true }), JSON.stringify(p)];
  const keep = (e: unknown): void => {
    texts.push(String(e), inspect(e, { depth: 10 }), JSON.stringify(e), (e as Error).stack ?? '');
    const cause = (e as Error).cause;
    if (cause !== undefined) texts.push(inspect(cause, { depth: 10 }));
  };

  fake.once('POST', '/v1/messages', { status: 401, body: errorBody('authentication_error', `invalid x-api-key ${FAKE_KEY}`) });
  await p.chat({ messages: [{ role: 'user', content: 'x' }] }).catch(keep);
  fake.once('POST', '/v1/messages', { status: 400, body: errorBody('invalid_request_error', `bad key ${FAKE_KEY} given`) });
  await p.chat({ messages: [{ role: 'user', content: 'x' }] }).catch(keep);
  fake.once('POST', '/v1/messages', {
    steps: [{ write: answerEvents({ blocks: [{ text: ['a'] }] }).slice(0, 4).join('') + sse('error', { type: 'error', error: { type: 'api_error', message: `echo ${FAKE_KEY}` } }) }],
  });
  await collect(p.chatStream({ messages: [{ role: 'user', content: 'x' }] })).catch(keep);
  fake.once('POST', '/v1/messages', { hang: true });
  await p.chat({ messages: [{ role: 'user', content: 'x' }] }, { timeouts: { loadMs: 50 } }).catch(keep);
  fake.once('GET', '/v1/models', { status: 500, body: errorBody('api_error', FAKE_KEY) });
  await p.listModels().catch(keep);
  await p.isAvailable();
  const port = await unusedPort();
  const refused = provider({ baseUrl: `http://127.0.0.1:${port}`, logger });
  await refused.chat({ messages: [{ role: 'user', content: 'x' }] }).catch(keep);
  await refused.isAvailable();

  assert.ok(texts.length >= 12, 'every failing call produced an error');
  assert.ok(lines.length > 0, 'the provider logged something at trace level');
  const all = [...texts, ...lines].join('\n');
  assert.equal(all.includes(FAKE_KEY), false);
  assert.equal(all.includes('FAKEKEYfakekey'), false);
  await p.close();
  await refused.close();
});

test('the server sees the key only in x-api-key', async () => {
  fake.once('POST', '/v1/messages', answerWith({ blocks: [{ text: ['ok'] }] }));
  const p = provider();
  await p.chat({ messages: [{ role: 'user', content: 'x' }] });
  const req = fake.last('/v1/messages');
  const others = Object.entries(req.headers).filter(([k]) => k !== 'x-api-key');
  assert.equal(JSON.stringify(others).includes(FAKE_KEY), false);
  assert.equal(req.headers.authorization, undefined);
  await p.close();
});
