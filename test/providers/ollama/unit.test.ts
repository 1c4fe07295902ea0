import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OllamaProvider, OLLAMA_DEFAULT_TIMEOUTS } from '../../../src/providers/ollama/index.js';
import {
  fastContentChunk,
  buildChatBody,
  contextWindowOf,
  stripDataUrl,
  toCapabilities,
  toChunk,
  toMetadata,
  toModelInfo,
  toTimings,
  toUsage,
  toWireMessage,
} from '../../../src/providers/ollama/wire.js';
import { isModelProvider } from '../../../src/core/types.js';
import type { ChatResponse } from '../../../src/core/types.js';
import type { OllamaConfig } from '../../../src/config/types.js';
import { ConfigError } from '../../../src/core/errors.js';

const NO_ENV = {} as NodeJS.ProcessEnv;

test('name, requiresApiKey and the ModelProvider shape', async () => {
  const p = new OllamaProvider({ env: NO_ENV });
  assert.equal(p.name, 'ollama');
  assert.equal(p.requiresApiKey, false);
  assert.equal(isModelProvider(p), true);
  await p.close();
});

test('defaults: localhost:11434, llama3, default timeouts', async () => {
  const p = new OllamaProvider({ env: NO_ENV });
  assert.equal(p.baseUrl, 'http://localhost:11434');
  assert.equal(p.baseUrlSource, 'default');
  assert.equal(p.model, 'llama3');
  assert.deepEqual({ ...p.timeouts }, { connectMs: 5000, loadMs: 600000, idleMs: 120000, requestMs: 0 });
  assert.deepEqual({ ...p.timeouts }, { ...OLLAMA_DEFAULT_TIMEOUTS });
  await p.close();
});

test('OLLAMA_HOST is used when no base URL is given, with Ollama\'s rules', async () => {
  const cases: [string, string][] = [
    ['127.0.0.1:9999', 'http://127.0.0.1:9999'],
    ['example.com', 'http://example.com:11434'],
    ['https://example.com/ollama', 'https://example.com/ollama'],
    ['0.0.0.0', 'http://127.0.0.1:11434'],
  ];
  for (const [value, expected] of cases) {
    const p = new OllamaProvider({ env: { OLLAMA_HOST: value } });
    assert.equal(p.baseUrl, expected, value);
    assert.equal(p.baseUrlSource, 'env');
    await p.close();
  }
  // An explicit base URL wins over OLLAMA_HOST.
  const p = new OllamaProvider({ baseUrl: 'http://10.0.0.2:1234/', env: { OLLAMA_HOST: 'x:1' } });
  assert.equal(p.baseUrl, 'http://10.0.0.2:1234');
  assert.equal(p.baseUrlSource, 'config');
  await p.close();
});

test('a bare host:port base URL is read like OLLAMA_HOST; a bad scheme is a ConfigError', async () => {
  const p = new OllamaProvider({ baseUrl: 'localhost:8080', env: NO_ENV });
  assert.equal(p.baseUrl, 'http://localhost:8080');
  await p.close();
  assert.throws(() => new OllamaProvider({ baseUrl: 'ftp://host:1', env: NO_ENV }), ConfigError);
});

test('fromConfig maps every field', async () => {
  const config: OllamaConfig = {
    enabled: true,
    baseUrl: 'http://127.0.0.1:7777',
    model: 'qwen3:0.6b',
    keepAlive: '10m',
    timeouts: { connectMs: 1000, loadMs: 2000, idleMs: 3000, requestMs: 4000 },
    options: { temperature: 0.1, num_ctx: 8192 },
    baseUrlSource: 'env',
  };
  const p = OllamaProvider.fromConfig(config);
  assert.equal(p.baseUrl, 'http://127.0.0.1:7777');
  assert.equal(p.baseUrlSource, 'env');
  assert.equal(p.model, 'qwen3:0.6b');
  assert.deepEqual({ ...p.timeouts }, config.timeouts);
  // keepAlive and options show up on the wire; see chat.test.ts for the request body.
  await p.close();
});

test('partial timeouts keep the defaults for the other phases', async () => {
  const p = new OllamaProvider({ env: NO_ENV, timeouts: { loadMs: 42 } });
  assert.deepEqual({ ...p.timeouts }, { connectMs: 5000, loadMs: 42, idleMs: 120000, requestMs: 0 });
  await p.close();
});

test('stripDataUrl removes a data: prefix and leaves plain base64 alone', () => {
  assert.equal(stripDataUrl('data:image/png;base64,iVBORw0KGgo='), 'iVBORw0KGgo=');
  assert.equal(stripDataUrl('iVBORw0KGgo='), 'iVBORw0KGgo=');
});

test('toWireMessage maps images, tool calls, tool results and thinking', () => {
  assert.deepEqual(
    toWireMessage({
      role: 'assistant',
      content: '',
      thinking: 'hmm',
      toolCalls: [
        { name: 'get_weather', arguments: { city: 'Tokyo' } },
        { name: 'get_weather', arguments: { city: 'Paris' }, index: 1, id: 'call_1' },
      ],
    }),
    {
      role: 'assistant',
      content: '',
      thinking: 'hmm',
      tool_calls: [
        { function: { name: 'get_weather', arguments: { city: 'Tokyo' } } },
        { id: 'call_1', function: { name: 'get_weather', arguments: { city: 'Paris' }, index: 1 } },
      ],
    },
  );
  assert.deepEqual(toWireMessage({ role: 'tool', content: '22C', toolName: 'get_weather', toolCallId: 'call_1' }), {
    role: 'tool',
    content: '22C',
    tool_name: 'get_weather',
    tool_call_id: 'call_1',
  });
  assert.deepEqual(toWireMessage({ role: 'user', content: 'see', images: ['data:image/jpeg;base64,AAAA', 'BBBB'] }), {
    role: 'user',
    content: 'see',
    images: ['AAAA', 'BBBB'],
  });
});

test('buildChatBody: stream explicit, keep_alive only when set, options merged', () => {
  const minimal = buildChatBody({ messages: [{ role: 'user', content: 'hi' }] }, { model: 'llama3' }, false);
  assert.deepEqual(minimal, { model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: false });
  assert.equal('keep_alive' in minimal, false);
  assert.equal('options' in minimal, false);

  const full = buildChatBody(
    {
      model: 'qwen3',
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      format: { type: 'object' },
      think: true,
      options: { temperature: 0.5 },
      keepAlive: 0,
    },
    { model: 'llama3', keepAlive: '5m', options: { temperature: 0.9, num_ctx: 4096 } },
    true,
  );
  assert.equal(full.model, 'qwen3');
  assert.equal(full.stream, true);
  assert.deepEqual(full.tools, [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }]);
  assert.deepEqual(full.format, { type: 'object' });
  assert.equal(full.think, true);
  assert.deepEqual(full.options, { temperature: 0.5, num_ctx: 4096 });
  // keepAlive 0 is a real value (unload after the call), not "unset".
  assert.equal(full.keep_alive, 0);

  const providerKeepAlive = buildChatBody({ messages: [] }, { model: 'm', keepAlive: '5m' }, true);
  assert.equal(providerKeepAlive.keep_alive, '5m');
});

test('timings: nanoseconds to milliseconds and tokens per second', () => {
  const t = toTimings({
    total_duration: 2_000_000_000,
    load_duration: 500_000_000,
    prompt_eval_count: 10,
    prompt_eval_duration: 100_000_000,
    eval_count: 20,
    eval_duration: 1_000_000_000,
  });
  assert.deepEqual(t, {
    totalMs: 2000,
    loadMs: 500,
    promptEvalMs: 100,
    promptTokensPerSecond: 100,
    evalMs: 1000,
    tokensPerSecond: 20,
  });
  assert.deepEqual(toTimings({}), {});
  // A zero duration gives no rate rather than Infinity.
  assert.equal(toTimings({ eval_count: 5, eval_duration: 0 }).tokensPerSecond, undefined);
});

test('usage: the sum only when a count is present', () => {
  assert.deepEqual(toUsage({ prompt_eval_count: 10, eval_count: 20 }), {
    promptTokens: 10,
    completionTokens: 20,
    totalTokens: 30,
  });
  assert.deepEqual(toUsage({ eval_count: 7 }), { completionTokens: 7, totalTokens: 7 });
  assert.deepEqual(toUsage({}), {});
});

test('metadata of a finished chat', () => {
  const res: ChatResponse = {
    message: { role: 'assistant', content: 'hi' },
    model: 'llama3',
    doneReason: 'stop',
    usage: { promptTokens: 10, completionTokens: 20, totalTokens: 30 },
    timings: { totalMs: 2000, tokensPerSecond: 20 },
    processingTimeMs: 2100,
  };
  assert.deepEqual(toMetadata(res), {
    providerUsed: 'ollama',
    model: 'llama3',
    processingTimeMs: 2100,
    tokensUsed: 30,
    promptTokens: 10,
    completionTokens: 20,
    doneReason: 'stop',
    timings: { totalMs: 2000, tokensPerSecond: 20 },
  });
});

test('toChunk: content, thinking, tool calls with object arguments, final metrics', () => {
  assert.deepEqual(toChunk({ model: 'm', message: { role: 'assistant', content: 'a' }, done: false }, 'x'), {
    content: 'a',
    done: false,
    model: 'm',
  });
  assert.deepEqual(
    toChunk({ message: { role: 'assistant', content: '', thinking: 'because' }, done: false }, 'fallback'),
    { content: '', done: false, model: 'fallback', thinking: 'because' },
  );
  const final = toChunk(
    {
      model: 'm',
      message: {
        role: 'assistant',
        content: '',
        tool_calls: [
          { function: { name: 'f', arguments: { a: 1 } } },
          { function: { index: 1, name: 'g', arguments: '{"b":2}' } },
        ],
      },
      done: true,
      done_reason: 'stop',
      eval_count: 4,
      eval_duration: 2_000_000,
    },
    'x',
  );
  assert.deepEqual(final.toolCalls, [
    { name: 'f', arguments: { a: 1 } },
    { name: 'g', arguments: { b: 2 }, index: 1 },
  ]);
  assert.equal(final.done, true);
  assert.equal(final.doneReason, 'stop');
  assert.deepEqual(final.usage, { completionTokens: 4, totalTokens: 4 });
  assert.deepEqual(final.timings, { evalMs: 2, tokensPerSecond: 2000 });
});

test('capabilities and context window from /api/show', () => {
  assert.deepEqual(toCapabilities(['completion', 'tools', 'thinking']), {
    chat: true,
    vision: false,
    tools: true,
    embeddings: false,
    streaming: true,
    thinking: true,
  });
  assert.deepEqual(toCapabilities(['embedding']), {
    chat: false,
    vision: false,
    tools: false,
    embeddings: true,
    streaming: true,
    thinking: false,
  });
  assert.equal(toCapabilities(['completion', 'vision']).vision, true);
  assert.equal(contextWindowOf({ 'general.architecture': 'llama', 'llama.context_length': 8192 }), 8192);
  assert.equal(contextWindowOf({ 'general.architecture': 'qwen3', 'llama.context_length': 8192 }), undefined);
  assert.equal(contextWindowOf({}), undefined);
});

test('toModelInfo: local, no pricing, details from /api/tags', () => {
  const info = toModelInfo(
    {
      name: 'llama3:latest',
      model: 'llama3:latest',
      modified_at: '2025-07-01T10:00:00Z',
      size: 4_661_224_676,
      digest: 'abc',
      details: { family: 'llama', parameter_size: '8.0B', quantization_level: 'Q4_0' },
    },
    { capabilities: ['completion'], model_info: { 'general.architecture': 'llama', 'llama.context_length': 8192 } },
  );
  assert.deepEqual(info, {
    id: 'ollama/llama3:latest',
    provider: 'ollama',
    name: 'llama3:latest',
    capabilities: { chat: true, vision: false, tools: false, embeddings: false, streaming: true, thinking: false },
    pricing: null,
    local: true,
    contextWindow: 8192,
    sizeBytes: 4_661_224_676,
    modifiedAt: '2025-07-01T10:00:00Z',
    family: 'llama',
    parameterSize: '8.0B',
    quantization: 'Q4_0',
    digest: 'abc',
  });
});

test('the fast path for plain content lines agrees with JSON.parse on every sample', () => {
  const contents = [
    '',
    'hello',
    ' the',
    'héllo 世界 🙂',
    'say "hi"',
    'back\\slash',
    'line\nbreak\ttab',
    '<b>&amp;</b>',
    '"},"done":false}',
    '\u0001\u001f control',
    '\u2028\u2029',
    'ends with backslash \\',
    '{"nested":"json"}',
  ];
  for (const content of contents) {
    for (const model of ['llama3', 'qwen3:0.6b', 'hf.co/org/model:Q4_K_M']) {
      const obj = { model, created_at: '2025-07-07T20:22:19.184789Z', message: { role: 'assistant', content }, done: false };
      const line = JSON.stringify(obj);
      const fast = fastContentChunk(line);
      assert.ok(fast !== undefined, `fast path should take ${line}`);
      assert.deepEqual(fast, toChunk(JSON.parse(line), 'other'), line);
    }
  }
  // Go escapes <, > and & as \u003c...: still decoded exactly.
  const goLine = '{"model":"m","created_at":"t","message":{"role":"assistant","content":"\\u003cb\\u003e"},"done":false}';
  assert.equal(fastContentChunk(goLine)?.content, '<b>');
});

test('the fast path declines every other shape, so JSON.parse decides', () => {
  const base = { model: 'm', created_at: 't', message: { role: 'assistant', content: 'x' }, done: false };
  const declined = [
    JSON.stringify({ ...base, done: true }),
    JSON.stringify({ ...base, message: { role: 'assistant', content: '', thinking: 'hmm' } }),
    JSON.stringify({ ...base, message: { role: 'assistant', content: '', tool_calls: [{ function: { name: 'f', arguments: {} } }] } }),
    JSON.stringify({ error: 'boom' }),
    JSON.stringify({ created_at: 't', model: 'm', message: { role: 'assistant', content: 'x' }, done: false }),
    JSON.stringify({ ...base, model: 'we"ird' }),
    JSON.stringify({ ...base, message: { role: 'user', content: 'x' } }),
    JSON.stringify({ ...base, done_reason: 'stop' }),
    // Shaped like a content line but not valid JSON: the fast path must not accept it.
    '{"model":"m","created_at":"t","message":{"role":"assistant","content":"a"b"},"done":false}',
    '{"model":"m","created_at":"t","message":{"role":"assistant","content":"abc\\"},"done":false}',
    ' {"model":"m","created_at":"t","message":{"role":"assistant","content":"x"},"done":false}',
  ];
  for (const line of declined) assert.equal(fastContentChunk(line), undefined, line);
});
