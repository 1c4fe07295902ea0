import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { pino } from 'pino';
import { OpenAIProvider } from '../../../src/providers/openai/index.js';
import { ConfigError, ProviderError } from '../../../src/core/errors.js';
import type { ProviderErrorCode } from '../../../src/core/errors.js';
import type { Logger } from '../../../src/core/logger.js';
import { REDACTED_PATHS } from '../../../src/core/logger.js';
import type { ApiProviderConfig } from '../../../src/config/types.js';
import { FakeOpenAI, errorScript, sse, sseScript, sseThenHang, textChunk } from '../../support/fake-openai.js';
import { unusedPort } from '../../support/fake-ollama.js';

const KEY = 'sk-test-errors-SECRET-9f8e7d6c5b4a';

let fake: FakeOpenAI;
before(async () => {
  fake = await FakeOpenAI.start();
});
after(async () => {
  await fake.close();
});

function provider(extra: ConstructorParameters<typeof OpenAIProvider>[0] = {}): OpenAIProvider {
  return new OpenAIProvider({ apiKey: KEY, baseUrl: fake.url, model: 'gpt-test', env: {}, ...extra });
}

const HI = { messages: [{ role: 'user' as const, content: 'hi' }] };

function expectError(code: ProviderErrorCode, check?: (e: ProviderError) => void) {
  return (e: unknown) => {
    assert.ok(e instanceof ProviderError, `expected a ProviderError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.provider, 'openai');
    check?.(e);
    return true;
  };
}

test('401: auth, not retryable, says to set OPENAI_API_KEY, without the echoed key', async () => {
  fake.once(
    'POST',
    '/chat/completions',
    errorScript(401, `Incorrect API key provided: sk-test-********4a. You can find your API key at https://platform.openai.com/account/api-keys.`, {
      code: 'invalid_api_key',
    }),
  );
  const p = provider();
  await assert.rejects(
    p.chat(HI),
    expectError('auth', (e) => {
      assert.equal(e.status, 401);
      assert.equal(e.retryable, false);
      // Defect 5: a server at a custom base_url is named by its URL, not "OpenAI".
      assert.ok(e.message.startsWith(`${fake.url} rejected the API key (HTTP 401: Incorrect API key provided: [REDACTED]`), e.message);
      assert.match(e.message, /set OPENAI_API_KEY or provider\.openai\.api_key/);
      assert.doesNotMatch(e.message, /\*\*\*/);
    }),
  );
  await p.close();
});

test('403: auth too', async () => {
  fake.once('POST', '/chat/completions', errorScript(403, 'Project does not have access to model gpt-test', { code: 'model_not_found' }));
  const p = provider();
  await assert.rejects(
    p.chat(HI),
    expectError('auth', (e) => {
      assert.equal(e.status, 403);
      assert.match(e.message, /OPENAI_API_KEY/);
    }),
  );
  await p.close();
});

test('429: rate_limited, retryable, honouring Retry-After in seconds, as an HTTP date, and retry-after-ms', async () => {
  fake.once('POST', '/chat/completions', errorScript(429, 'Rate limit reached for requests', { code: 'rate_limit_exceeded', headers: { 'retry-after': '7' } }));
  const inTwoMin = new Date(Date.now() + 120_000).toUTCString();
  fake.once('POST', '/chat/completions', errorScript(429, 'slow down', { headers: { 'retry-after': inTwoMin } }));
  fake.once('POST', '/chat/completions', errorScript(429, 'slow down', { headers: { 'retry-after-ms': '1500', 'retry-after': '2' } }));
  fake.once('POST', '/chat/completions', errorScript(429, 'You exceeded your current quota', { code: 'insufficient_quota' }));
  const p = provider();
  await assert.rejects(
    p.chat(HI),
    expectError('rate_limited', (e) => {
      assert.equal(e.retryable, true);
      assert.equal(e.retryAfterMs, 7000);
      assert.equal(e.status, 429);
      assert.match(e.message, /rate-limiting requests .*wait 7 s and try again/);
    }),
  );
  await assert.rejects(
    p.chat(HI),
    expectError('rate_limited', (e) => {
      assert.ok(e.retryAfterMs !== undefined && e.retryAfterMs > 100_000 && e.retryAfterMs <= 120_000, String(e.retryAfterMs));
    }),
  );
  await assert.rejects(p.chat(HI), expectError('rate_limited', (e) => assert.equal(e.retryAfterMs, 1500)));
  await assert.rejects(
    p.chat(HI),
    expectError('rate_limited', (e) => {
      assert.equal(e.retryAfterMs, undefined);
      assert.match(e.message, /quota is used up/);
    }),
  );
  await p.close();
});

test('5xx: server_error, retryable', async () => {
  fake.once('POST', '/chat/completions', errorScript(500, 'The server had an error while processing your request.', { type: 'server_error' }));
  fake.once('POST', '/chat/completions', { status: 503, headers: { 'content-type': 'text/html' }, body: '<html><title>503 Service Unavailable</title></html>' });
  const p = provider();
  await assert.rejects(
    p.chat(HI),
    expectError('server_error', (e) => {
      assert.equal(e.retryable, true);
      assert.equal(e.status, 500);
      assert.equal(e.providerMessage, 'The server had an error while processing your request.');
    }),
  );
  await assert.rejects(p.chat(HI), expectError('server_error', (e) => assert.match(e.message, /HTTP 503: 503 Service Unavailable/)));
  await p.close();
});

test('404 for a model: model_not_found naming it; 404 for the path: protocol, pointing at base_url', async () => {
  fake.once(
    'POST',
    '/chat/completions',
    errorScript(404, 'The model `gpt-nope` does not exist or you do not have access to it.', { code: 'model_not_found' }),
  );
  fake.once('POST', '/chat/completions', { status: 404, body: { error: { message: 'model "llama9" not found, try pulling it first', type: 'api_error' } } });
  const p = provider();
  await assert.rejects(
    p.chat({ ...HI, model: 'gpt-nope' }),
    expectError('model_not_found', (e) => {
      // Defect 5: named by its URL at a custom base_url.
      assert.ok(e.message.startsWith(`Model 'gpt-nope' is not available at ${fake.url} `), e.message);
      assert.equal(e.retryable, false);
    }),
  );
  await assert.rejects(p.chat({ ...HI, model: 'llama9' }), expectError('model_not_found'));
  await p.close();
  // No route at all under this base path: the fake answers 404 text.
  const wrong = new OpenAIProvider({ apiKey: KEY, baseUrl: `${fake.server.url}/wrong`, env: {} });
  await assert.rejects(
    wrong.chat(HI),
    expectError('protocol', (e) => assert.match(e.message, /has no POST \/chat\/completions .*provider\.openai\.base_url/)),
  );
  await wrong.close();
});

test('other 4xx: bad_request carrying the API\'s error.message', async () => {
  const msg = "Invalid value for 'temperature': expected a number <= 2.";
  fake.once('POST', '/chat/completions', errorScript(400, msg, { code: 'invalid_value' }));
  fake.once('POST', '/chat/completions', { status: 422, body: { detail: [{ msg: 'field required' }] } });
  const p = provider();
  await assert.rejects(
    p.chat(HI),
    expectError('bad_request', (e) => {
      // Defect 5: named by its URL at a custom base_url.
      assert.equal(e.message, `${fake.url} rejected the request: ${msg}`);
      assert.equal(e.providerMessage, msg);
      assert.equal(e.retryable, false);
    }),
  );
  await assert.rejects(p.chat(HI), expectError('bad_request', (e) => assert.match(e.message, /field required/)));
  await p.close();
});

test('connection refused: unavailable, retryable, at once', async () => {
  const port = await unusedPort();
  const p = new OpenAIProvider({ apiKey: KEY, baseUrl: `http://127.0.0.1:${port}/v1`, env: {}, timeouts: { connectMs: 20_000 } });
  const start = Date.now();
  await assert.rejects(
    p.chat(HI),
    expectError('unavailable', (e) => {
      assert.equal(e.retryable, true);
      // Defect 5: named by its URL at a custom base_url.
      assert.match(e.message, new RegExp(`^Could not connect to http://127\\.0\\.0\\.1:${port}/v1 `));
    }),
  );
  assert.ok(Date.now() - start < 10_000);
  await assert.rejects(p.listModels(), expectError('unavailable'));
  assert.equal(await p.isAvailable(), false);
  await p.close();
});

test('timeouts by phase: load (no headers) and idle (silence mid-stream, with the partial text)', async () => {
  fake.once('POST', '/chat/completions', { hang: true });
  fake.once('POST', '/chat/completions', sseThenHang(sse(textChunk('so far'))));
  const p = provider({ timeouts: { loadMs: 150, idleMs: 150 } });
  await assert.rejects(
    p.chat(HI),
    expectError('timeout', (e) => {
      assert.equal(e.phase, 'load');
      assert.equal(e.retryable, true);
      assert.match(e.message, /did not start answering within 150 ms.*timeouts\.loadMs/);
      assert.equal(e.setting?.configKey, 'provider.openai.timeouts.load');
    }),
  );
  await assert.rejects(
    p.chat(HI),
    expectError('timeout', (e) => {
      assert.equal(e.phase, 'idle');
      assert.equal(e.partialText, 'so far');
      assert.match(e.message, /timeouts\.idleMs/);
      assert.equal(e.setting?.configKey, 'provider.openai.timeouts.idle');
    }),
  );
  // Per-call timeouts override the provider's.
  fake.once('POST', '/chat/completions', { hang: true });
  const q = provider();
  await assert.rejects(q.chat(HI, { timeouts: { requestMs: 100 } }), expectError('timeout', (e) => assert.equal(e.phase, 'request')));
  await p.close();
  await q.close();
});

test('close() fails calls in flight and later calls with aborted', async () => {
  fake.once('POST', '/chat/completions', { hang: true });
  const p = provider();
  const pending = p.chat(HI);
  await fake.waitFor(() => fake.requests.at(-1)?.over === false, 2000, 'the request to arrive');
  await p.close();
  await assert.rejects(pending, expectError('aborted', (e) => assert.match(e.message, /was closed/)));
  await assert.rejects(p.chat(HI), expectError('aborted'));
});

test('a missing key is a ConfigError naming the config key and the environment variable', () => {
  assert.throws(
    () => new OpenAIProvider({ env: {} }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.key, 'provider.openai.api_key');
      assert.match(e.message, /OPENAI_API_KEY/);
      assert.match(e.message, /provider\.openai\.api_key/);
      return true;
    },
  );
  assert.throws(() => new OpenAIProvider({ apiKey: '   ', env: { OPENAI_API_KEY: '' } }), ConfigError);
  const config: ApiProviderConfig = {
    enabled: true,
    apiKeyEnv: 'OPENAI_API_KEY',
    model: 'gpt-4o-mini',
    baseUrl: 'https://api.openai.com/v1',
    timeouts: { connectMs: 1, loadMs: 2, idleMs: 3, requestMs: 4 },
  };
  // fromConfig trusts the loaded config: the process environment is not read again.
  const saved = process.env.OPENAI_API_KEY;
  process.env.OPENAI_API_KEY = 'sk-from-process-env-should-not-be-used';
  try {
    assert.throws(() => OpenAIProvider.fromConfig(config), ConfigError);
  } finally {
    if (saved === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = saved;
  }
});

test('the key comes from OPENAI_API_KEY when not given; fromConfig takes key, URL, model, timeouts and limit', async () => {
  fake.once('GET', '/models', { body: { object: 'list', data: [] } });
  const p = new OpenAIProvider({ baseUrl: fake.url, env: { OPENAI_API_KEY: ` ${KEY} ` } });
  assert.equal(p.requiresApiKey, true);
  assert.equal(p.name, 'openai');
  await p.listModels();
  assert.equal(fake.last('/models').headers.authorization, `Bearer ${KEY}`);
  await p.close();
  const q = OpenAIProvider.fromConfig({
    enabled: true,
    apiKey: KEY,
    apiKeyEnv: 'OPENAI_API_KEY',
    model: 'gpt-cfg',
    baseUrl: `${fake.url}/`,
    timeouts: { connectMs: 1000, loadMs: 2000, idleMs: 3000, requestMs: 0 },
    maxTokens: 77,
  });
  assert.equal(q.baseUrl, fake.url);
  assert.equal(q.model, 'gpt-cfg');
  assert.equal(q.maxTokens, 77);
  assert.deepEqual(q.timeouts, { connectMs: 1000, loadMs: 2000, idleMs: 3000, requestMs: 0 });
  await q.close();
});

test('a base URL that is not http(s) is a ConfigError naming base_url', () => {
  for (const baseUrl of ['ftp://example.com/v1', 'not a url']) {
    assert.throws(
      () => new OpenAIProvider({ apiKey: KEY, baseUrl, env: {} }),
      (e: unknown) => e instanceof ConfigError && e.key === 'provider.openai.base_url',
    );
  }
});

test('the key appears in no error, stack, hint, inspection or log line, whatever fails', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = pino({ level: 'trace', redact: { paths: [...REDACTED_PATHS], censor: '[REDACTED]' } }, sink) as unknown as Logger;
  const p = provider({ logger, timeouts: { loadMs: 200, idleMs: 200 } });
  const echo = `Incorrect API key provided: ${KEY}.`;
  // Servers that echo the key back in every way they could.
  fake.once('POST', '/chat/completions', errorScript(401, echo));
  fake.once('POST', '/chat/completions', errorScript(429, `key ${KEY} is rate limited`, { headers: { 'retry-after': '1' } }));
  fake.once('POST', '/chat/completions', { status: 500, headers: { 'content-type': 'text/plain' }, body: `boom for Bearer ${KEY}` });
  fake.once('POST', '/chat/completions', errorScript(400, `bad key ${KEY}`));
  fake.once('POST', '/chat/completions', sseScript(sse(textChunk('x'), { error: { message: `stream failed for ${KEY}` } })));
  fake.once('POST', '/chat/completions', sseScript(`data: {"oops ${KEY}\n\n`));
  // Data that starts with the key: V8's JSON.parse error would quote its first characters.
  fake.once('POST', '/chat/completions', sseScript(`data: ${KEY}\n\n`));
  fake.once('POST', '/chat/completions', { hang: true });
  fake.once('POST', '/chat/completions', sseThenHang(sse(textChunk('y'))));
  fake.once('GET', '/models', errorScript(403, `key ${KEY} forbidden`));
  fake.once('GET', '/models', { body: `${KEY} is not JSON` });
  const errors: unknown[] = [];
  for (let i = 0; i < 9; i++) errors.push(await p.chat(HI).then(() => undefined, (e: unknown) => e));
  errors.push(await p.listModels().then(() => undefined, (e: unknown) => e));
  errors.push(await p.listModels().then(() => undefined, (e: unknown) => e));
  errors.push(await p.isAvailable());
  const port = await unusedPort();
  const refused = new OpenAIProvider({ apiKey: KEY, baseUrl: `http://127.0.0.1:${port}/v1`, env: {}, logger });
  errors.push(await refused.chat(HI).then(() => undefined, (e: unknown) => e));
  errors.push(await refused.isAvailable());
  await refused.close();
  try {
    new OpenAIProvider({ env: {}, logger });
  } catch (e) {
    errors.push(e);
  }
  await p.close();

  assert.equal(errors.filter((e) => e instanceof ProviderError).length, 12, 'every failure was a ProviderError');
  // Not even the start of the key (what a truncated quote would show).
  const head = KEY.slice(0, 10);
  for (const e of errors) {
    if (!(e instanceof Error)) continue;
    const pe = e as ProviderError;
    const texts = [e.message, e.stack ?? '', pe.hint ?? '', pe.providerMessage ?? '', pe.partialText ?? '', inspect(e, { depth: 6 }), JSON.stringify(e)];
    for (const t of texts) assert.ok(!t.includes(head), `the key leaked in: ${t.split(head).join('<KEY>')}`);
  }
  assert.ok(lines.length > 0, 'the logger saw the failures');
  for (const line of lines) assert.ok(!line.includes(head), `the key leaked in a log line: ${line.split(head).join('<KEY>')}`);
  // Nor does inspecting the provider itself reveal it.
  assert.ok(!inspect(p, { depth: 6, showHidden: true }).includes(KEY));
  assert.ok(!JSON.stringify(p).includes(KEY));
});

test('a key in a long text body is redacted before the body is shortened, whatever its shape', async () => {
  // The cut at 197 characters falls inside the key; shortening first would print its start.
  const key = 'live_0123456789abcdefghijklmnopqrstuvwxyzSECRET';
  const body = `${'x'.repeat(184)} ${key}`;
  fake.once('POST', '/chat/completions', { status: 502, headers: { 'content-type': 'text/plain' }, body });
  const p = provider({ apiKey: key });
  await assert.rejects(
    p.chat(HI),
    expectError('server_error', (e) => {
      for (const text of [e.message, e.providerMessage ?? '']) {
        assert.ok(!text.includes(key.slice(0, 5)), `a part of the key leaked: ${text}`);
      }
      assert.match(e.providerMessage ?? '', /^x{184} \[REDACTED\]$/);
    }),
  );
  await p.close();
});

test('a compatible server at a custom base_url is named by its URL, OpenAI only at api.openai.com', async () => {
  const notFound = errorScript(404, 'The model `gpt-nope` does not exist.', { code: 'model_not_found' });
  fake.once('POST', '/chat/completions', notFound);
  const custom = provider();
  await assert.rejects(
    custom.chat({ ...HI, model: 'gpt-nope' }),
    expectError('model_not_found', (e) => {
      assert.match(e.message, new RegExp(`^Model 'gpt-nope' is not available at ${fake.url.replace(/[.]/g, '\\.')} `));
      assert.doesNotMatch(e.message, /OpenAI\b/);
      assert.equal(e.baseUrl, fake.url);
    }),
  );
  await custom.close();
  fake.once('POST', '/chat/completions', notFound);
  const real = new OpenAIProvider({ apiKey: KEY, env: {}, connect: fake.connector });
  await assert.rejects(
    real.chat({ ...HI, model: 'gpt-nope' }),
    expectError('model_not_found', (e) => assert.match(e.message, /^Model 'gpt-nope' is not available at OpenAI /)),
  );
  await real.close();
});

test('errors carry the request as fields: model, base URL and endpoint', async () => {
  fake.once('POST', '/chat/completions', errorScript(400, 'bad', { code: 'invalid_value' }));
  const p = provider();
  await assert.rejects(
    p.chat({ ...HI, model: 'gpt-x' }),
    expectError('bad_request', (e) => {
      assert.equal(e.model, 'gpt-x');
      assert.equal(e.baseUrl, fake.url);
      assert.equal(e.endpoint, 'POST /chat/completions');
    }),
  );
  await p.close();
});
