import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { pino } from 'pino';
import { OpenRouterProvider, perMillion, toOpenRouterModelInfo } from '../../../src/providers/openrouter/index.js';
import { OpenAICompatibleProvider } from '../../../src/providers/openai/index.js';
import { ConfigError, ProviderError } from '../../../src/core/errors.js';
import type { ProviderErrorCode } from '../../../src/core/errors.js';
import type { Logger } from '../../../src/core/logger.js';
import type { ChatChunk } from '../../../src/core/types.js';
import {
  DONE,
  FakeOpenAI,
  deltaChunk,
  errorScript,
  finishChunk,
  sse,
  sseScript,
  textChunk,
  textStream,
  toolCallChunks,
  usageChunk,
} from '../../support/fake-openai.js';

const KEY = 'sk-or-v1-test0123456789abcdefSECRET';

let fake: FakeOpenAI;
before(async () => {
  fake = await FakeOpenAI.start();
});
after(async () => {
  await fake.close();
});

function provider(extra: ConstructorParameters<typeof OpenRouterProvider>[0] = {}): OpenRouterProvider {
  return new OpenRouterProvider({ apiKey: KEY, baseUrl: fake.url, env: {}, ...extra });
}

const HI = { messages: [{ role: 'user' as const, content: 'hi' }] };

function expectError(code: ProviderErrorCode, check?: (e: ProviderError) => void) {
  return (e: unknown) => {
    assert.ok(e instanceof ProviderError, `expected a ProviderError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.provider, 'openrouter');
    check?.(e);
    return true;
  };
}

/** Abridged entries of OpenRouter's real `GET /api/v1/models`. */
const MODELS = {
  data: [
    {
      id: 'anthropic/claude-sonnet-4',
      name: 'Anthropic: Claude Sonnet 4',
      created: 1747930371,
      context_length: 200000,
      architecture: { modality: 'text+image->text', input_modalities: ['image', 'text', 'file'], output_modalities: ['text'], tokenizer: 'Claude' },
      pricing: { prompt: '0.000003', completion: '0.000015', request: '0', image: '0.0048' },
      top_provider: { context_length: 200000, max_completion_tokens: 64000, is_moderated: true },
      supported_parameters: ['include_reasoning', 'max_tokens', 'reasoning', 'stop', 'temperature', 'tool_choice', 'tools', 'top_k', 'top_p'],
    },
    {
      id: 'meta-llama/llama-3.1-8b-instruct',
      name: 'Meta: Llama 3.1 8B Instruct',
      created: 1721692800,
      context_length: 131072,
      architecture: { modality: 'text->text', input_modalities: ['text'], output_modalities: ['text'] },
      pricing: { prompt: '0.00000002', completion: '0.00000003' },
      top_provider: { context_length: 131072, max_completion_tokens: null },
      supported_parameters: ['max_tokens', 'temperature'],
    },
    {
      id: 'openrouter/auto',
      name: 'Auto Router',
      context_length: 2000000,
      architecture: { input_modalities: ['text', 'image'], output_modalities: ['text'] },
      pricing: { prompt: '-1', completion: '-1' },
      top_provider: { context_length: null, max_completion_tokens: null },
      supported_parameters: [],
    },
    {
      id: 'google/gemini-2.5-flash-image',
      architecture: { input_modalities: ['image', 'text'], output_modalities: ['image', 'text'] },
      pricing: { prompt: '0.0000003', completion: '0.0000025' },
    },
    { name: 'no id' },
  ],
};

test('listModels: prices per million tokens, context window, max output and capabilities from OpenRouter\'s fields', async () => {
  fake.once('GET', '/models', { body: MODELS });
  const p = provider();
  const models = await p.listModels();
  assert.equal(fake.last('/models').headers.authorization, `Bearer ${KEY}`);
  assert.deepEqual(
    models.map((m) => m.id),
    ['openrouter/anthropic/claude-sonnet-4', 'openrouter/google/gemini-2.5-flash-image', 'openrouter/meta-llama/llama-3.1-8b-instruct', 'openrouter/openrouter/auto'],
  );
  const [claude, gemini, llama, auto] = models;
  assert.deepEqual(claude, {
    id: 'openrouter/anthropic/claude-sonnet-4',
    provider: 'openrouter',
    name: 'anthropic/claude-sonnet-4',
    capabilities: { chat: true, vision: true, tools: true, embeddings: false, streaming: true, thinking: true },
    pricing: { inputPerMillion: 3, outputPerMillion: 15 },
    local: false,
    contextWindow: 200000,
    maxOutput: 64000,
    modifiedAt: new Date(1747930371 * 1000).toISOString(),
  });
  assert.deepEqual(llama?.pricing, { inputPerMillion: 0.02, outputPerMillion: 0.03 });
  assert.equal(llama?.maxOutput, undefined);
  assert.equal(llama?.capabilities.tools, false);
  assert.equal(llama?.capabilities.vision, false);
  assert.equal(auto?.pricing, null, 'a negative ("varies") price is unknown, not a price');
  assert.equal(auto?.contextWindow, 2000000);
  assert.deepEqual(gemini?.pricing, { inputPerMillion: 0.3, outputPerMillion: 2.5 });
  assert.equal(gemini?.capabilities.vision, true);
  await p.close();
});

test('perMillion: exact decimal results, invalid and negative prices are undefined', () => {
  assert.equal(perMillion('0.000003'), 3);
  assert.equal(perMillion('0.0000001'), 0.1);
  assert.equal(perMillion('0'), 0);
  assert.equal(perMillion(0.00000125), 1.25);
  assert.equal(perMillion('-1'), undefined);
  assert.equal(perMillion(''), undefined);
  assert.equal(perMillion('abc'), undefined);
  assert.equal(perMillion(undefined), undefined);
  assert.equal(toOpenRouterModelInfo({ id: 'x/y', pricing: { prompt: '0.000001' } })?.pricing, null, 'half a price is no price');
});

test('attribution headers: HTTP-Referer and X-Title when configured, absent otherwise; requests reuse OpenAI\'s wire format', async () => {
  fake.once('POST', '/chat/completions', sseScript(textStream(['ok'])));
  fake.once('POST', '/chat/completions', sseScript(textStream(['ok'])));
  const p = provider({ appUrl: 'https://example.org/omega', appName: 'Omega Tests' });
  assert.ok(p instanceof OpenAICompatibleProvider);
  assert.equal((await p.chat(HI)).message.content, 'ok');
  const req = fake.last('/chat/completions');
  assert.equal(req.headers['http-referer'], 'https://example.org/omega');
  assert.equal(req.headers['x-title'], 'Omega Tests');
  assert.equal(req.headers.authorization, `Bearer ${KEY}`);
  const body = req.json as Record<string, unknown>;
  assert.equal(body.model, 'openrouter/auto');
  assert.equal(body.stream, true);
  assert.deepEqual(body.stream_options, { include_usage: true });
  await p.close();
  const q = provider();
  await q.chat(HI);
  const plain = fake.last('/chat/completions');
  assert.equal(plain.headers['http-referer'], undefined);
  assert.equal(plain.headers['x-title'], undefined);
  await q.close();
});

test('think becomes OpenRouter\'s reasoning parameter; its extra sampling options are mapped; limits use max_tokens', async () => {
  fake.once('POST', '/chat/completions', sseScript(textStream(['a'])));
  fake.once('POST', '/chat/completions', sseScript(textStream(['b'])));
  fake.once('POST', '/chat/completions', sseScript(textStream(['c'])));
  const p = provider({ maxTokens: 1000, model: 'anthropic/claude-sonnet-4' });
  await p.chat({ ...HI, think: 'low', options: { top_k: 40, repeat_penalty: 1.1, min_p: 0.05, num_ctx: 4096 } });
  let body = fake.last('/chat/completions').json as Record<string, unknown>;
  assert.deepEqual(body.reasoning, { effort: 'low' });
  assert.equal('reasoning_effort' in body, false);
  assert.equal(body.top_k, 40);
  assert.equal(body.repetition_penalty, 1.1);
  assert.equal(body.min_p, 0.05);
  assert.equal('num_ctx' in body, false);
  assert.equal(body.max_tokens, 1000);
  assert.equal(body.model, 'anthropic/claude-sonnet-4');
  await p.chat({ ...HI, think: true });
  body = fake.last('/chat/completions').json as Record<string, unknown>;
  assert.deepEqual(body.reasoning, { enabled: true });
  await p.chat({ ...HI, think: false });
  body = fake.last('/chat/completions').json as Record<string, unknown>;
  assert.equal('reasoning' in body, false);
  await p.close();
});

/** A streamed OpenRouter answer: processing comments, reasoning, text, a tool call, usage. */
const OR_BODY =
  ': OPENROUTER PROCESSING\n\n' +
  ': OPENROUTER PROCESSING\n\n' +
  sse(
    deltaChunk({ role: 'assistant', content: '', reasoning: 'Denke… ' }, { model: 'anthropic/claude-sonnet-4' }),
    textChunk('Tschüß ', 'anthropic/claude-sonnet-4'),
    textChunk('🚀', 'anthropic/claude-sonnet-4'),
    ...toolCallChunks([{ id: 'toolu_1', name: 'search', args: '{"q":"Köln"}' }], 3),
    finishChunk('tool_calls', 'anthropic/claude-sonnet-4'),
    usageChunk(21, 8, 'anthropic/claude-sonnet-4'),
  ) +
  DONE;

function checkOr(chunks: ChatChunk[], label: string): void {
  assert.equal(chunks.map((c) => c.content).join(''), 'Tschüß 🚀', label);
  assert.equal(chunks.map((c) => c.thinking ?? '').join(''), 'Denke… ', label);
  const last = chunks.at(-1) as ChatChunk;
  assert.equal(chunks.filter((c) => c.done).length, 1, label);
  assert.equal(last.done, true, label);
  assert.equal(last.doneReason, 'tool_calls', label);
  assert.equal(last.model, 'anthropic/claude-sonnet-4', label);
  assert.deepEqual(last.usage, { promptTokens: 21, completionTokens: 8, totalTokens: 29 }, label);
  assert.deepEqual(last.toolCalls, [{ id: 'toolu_1', index: 0, name: 'search', arguments: { q: 'Köln' } }], label);
}

test('an OpenRouter stream cut at every byte boundary: comments ignored, reasoning, text, tool call and usage intact', async () => {
  const bytes = Buffer.from(OR_BODY, 'utf8');
  const p = provider();
  for (let i = 1; i < bytes.length; i++) {
    fake.once('POST', '/chat/completions', sseScript(bytes, [i], 1));
    const chunks: ChatChunk[] = [];
    for await (const c of p.chatStream(HI)) chunks.push(c);
    checkOr(chunks, `cut at byte ${i}`);
  }
  await p.close();
});

test('an error mid-stream (OpenRouter\'s shape, numeric code, finish_reason error) is a ProviderError with the partial text', async () => {
  const midError = (code: number, message: string) => ({
    id: 'gen-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'x/y',
    provider: 'SomeHost',
    error: { code, message },
    choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }],
  });
  fake.once('POST', '/chat/completions', sseScript(sse(textChunk('half '), midError(502, 'Provider disconnected unexpectedly'))));
  fake.once('POST', '/chat/completions', sseScript(sse(textChunk('half '), midError(429, 'Upstream rate limited'))));
  fake.once('POST', '/chat/completions', sseScript(sse(textChunk('half '), deltaChunk({ content: 'more' }, { finish: 'error' }))));
  const p = provider();
  await assert.rejects(
    p.chat(HI),
    expectError('server_error', (e) => {
      assert.equal(e.partialText, 'half ');
      assert.equal(e.retryable, true);
      assert.match(e.message, /^OpenRouter failed mid-response: Provider disconnected unexpectedly\./);
    }),
  );
  await assert.rejects(p.chat(HI), expectError('rate_limited', (e) => assert.equal(e.partialText, 'half ')));
  await assert.rejects(p.chat(HI), expectError('server_error', (e) => assert.equal(e.partialText, 'half more')));
  await p.close();
});

test('HTTP errors: 401 names OPENROUTER_API_KEY, 402 says add credits, 403 moderation is bad_request, 429 honours Retry-After, 5xx retryable', async () => {
  fake.once('POST', '/chat/completions', { status: 401, body: { error: { code: 401, message: 'No auth credentials found' } } });
  fake.once('POST', '/chat/completions', { status: 402, body: { error: { code: 402, message: 'Insufficient credits' } } });
  fake.once('POST', '/chat/completions', { status: 403, body: { error: { code: 403, message: 'Input was flagged by moderation', metadata: { reasons: ['x'] } } } });
  fake.once('POST', '/chat/completions', { status: 403, body: { error: { code: 403, message: 'Key disabled' } } });
  fake.once('POST', '/chat/completions', { status: 429, headers: { 'retry-after': '3' }, body: { error: { code: 429, message: 'Rate limit exceeded' } } });
  fake.once('POST', '/chat/completions', { status: 503, body: { error: { code: 503, message: 'No available model provider' } } });
  fake.once('POST', '/chat/completions', { status: 400, body: { error: { code: 400, message: 'nope/model is not a valid model ID' } } });
  const p = provider();
  await assert.rejects(
    p.chat(HI),
    expectError('auth', (e) => {
      assert.match(e.message, /^OpenRouter rejected the API key .*set OPENROUTER_API_KEY or provider\.openrouter\.api_key/);
      assert.equal(e.retryable, false);
    }),
  );
  await assert.rejects(p.chat(HI), expectError('auth', (e) => assert.match(e.message, /lack of credits .*add credits/)));
  await assert.rejects(p.chat(HI), expectError('bad_request', (e) => assert.match(e.message, /refused the prompt .*flagged/)));
  await assert.rejects(p.chat(HI), expectError('auth', (e) => assert.match(e.message, /OPENROUTER_API_KEY/)));
  await assert.rejects(
    p.chat(HI),
    expectError('rate_limited', (e) => {
      assert.equal(e.retryAfterMs, 3000);
      assert.equal(e.retryable, true);
    }),
  );
  await assert.rejects(p.chat(HI), expectError('server_error', (e) => assert.equal(e.retryable, true)));
  await assert.rejects(
    p.chat({ ...HI, model: 'nope/model' }),
    expectError('model_not_found', (e) => assert.match(e.message, /^Model 'nope\/model' is not available at OpenRouter/)),
  );
  await p.close();
});

test('isAvailable probes GET /key: true with a valid key, false on 401', async () => {
  fake.once('GET', '/key', { body: { data: { label: 'sk-or-v1-abc...', usage: 0, limit: null, is_free_tier: false } } });
  fake.once('GET', '/key', { status: 401, body: { error: { code: 401, message: 'User not found.' } } });
  const p = provider();
  assert.equal(await p.isAvailable(), true);
  assert.equal(fake.last('/key').headers.authorization, `Bearer ${KEY}`);
  assert.equal(await p.isAvailable(), false);
  await p.close();
});

test('a missing key is a ConfigError naming provider.openrouter.api_key and OPENROUTER_API_KEY; the env variable is used', async () => {
  assert.throws(
    () => new OpenRouterProvider({ env: {} }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.key, 'provider.openrouter.api_key');
      assert.match(e.message, /OPENROUTER_API_KEY/);
      assert.match(e.message, /provider\.openrouter\.api_key/);
      return true;
    },
  );
  assert.throws(
    () =>
      OpenRouterProvider.fromConfig({
        enabled: true,
        apiKeyEnv: 'OPENROUTER_API_KEY',
        model: 'openrouter/auto',
        baseUrl: 'https://openrouter.ai/api/v1',
        timeouts: { connectMs: 1, loadMs: 1, idleMs: 1, requestMs: 0 },
      }),
    ConfigError,
  );
  const p = new OpenRouterProvider({ env: { OPENROUTER_API_KEY: KEY } });
  assert.equal(p.baseUrl, 'https://openrouter.ai/api/v1');
  assert.equal(p.model, 'openrouter/auto');
  assert.equal(p.name, 'openrouter');
  assert.equal(p.requiresApiKey, true);
  await p.close();
  const q = OpenRouterProvider.fromConfig({
    enabled: true,
    apiKey: KEY,
    apiKeyEnv: 'OPENROUTER_API_KEY',
    model: 'meta-llama/llama-3.1-8b-instruct',
    baseUrl: fake.url,
    timeouts: { connectMs: 1000, loadMs: 1000, idleMs: 1000, requestMs: 0 },
    appName: 'Cfg App',
  });
  assert.equal(q.appName, 'Cfg App');
  fake.once('POST', '/chat/completions', sseScript(textStream(['x'])));
  const out = await q.complete({ systemPrompt: '', history: [], currentMessage: 'q' });
  assert.equal(out.metadata.providerUsed, 'openrouter');
  assert.equal(fake.last('/chat/completions').headers['x-title'], 'Cfg App');
  await q.close();
});

test('the key appears in no error or log line', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = pino({ level: 'trace' }, sink) as unknown as Logger;
  const p = provider({ logger, appName: 'Leak Test' });
  fake.once('POST', '/chat/completions', { status: 401, body: { error: { code: 401, message: `Invalid key ${KEY}` } } });
  fake.once('POST', '/chat/completions', { status: 402, body: { error: { code: 402, message: `Key ${KEY} has no credits` } } });
  fake.once('POST', '/chat/completions', sseScript(sse(textChunk('a'), { error: { code: 500, message: `failed with ${KEY}` } })));
  fake.once('GET', '/models', errorScript(500, `oops ${KEY}`));
  fake.once('GET', '/key', errorScript(401, `bad ${KEY}`));
  const errors: unknown[] = [];
  for (let i = 0; i < 3; i++) errors.push(await p.chat(HI).then(() => undefined, (e: unknown) => e));
  errors.push(await p.listModels().then(() => undefined, (e: unknown) => e));
  assert.equal(await p.isAvailable(), false);
  await p.close();
  assert.equal(errors.filter((e) => e instanceof ProviderError).length, 4);
  for (const e of errors) {
    const pe = e as ProviderError;
    for (const t of [pe.message, pe.stack ?? '', pe.providerMessage ?? '', pe.partialText ?? '', inspect(pe, { depth: 6 })]) {
      assert.ok(!t.includes(KEY), `the key leaked in: ${t.split(KEY).join('<KEY>')}`);
    }
  }
  assert.ok(lines.length > 0);
  for (const line of lines) assert.ok(!line.includes(KEY), `the key leaked in a log line: ${line.split(KEY).join('<KEY>')}`);
});

test('the key is redacted from a long text body before the body is shortened', async () => {
  const body = `${'x'.repeat(184)} ${KEY}`;
  fake.once('POST', '/chat/completions', { status: 502, headers: { 'content-type': 'text/plain' }, body });
  const p = provider();
  await assert.rejects(
    p.chat({ messages: [{ role: 'user', content: 'hi' }] }),
    (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      for (const text of [e.message, e.providerMessage ?? '']) {
        assert.ok(!text.includes(KEY.slice(0, 12)), `a part of the key leaked: ${text}`);
      }
      // OpenRouter is a named service: a stand-in base URL does not rename it.
      assert.match(e.message, /^OpenRouter failed/);
      return true;
    },
  );
  await p.close();
});
