import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AnthropicProvider } from '../../../src/providers/anthropic/index.js';
import type { AnthropicProviderOptions } from '../../../src/providers/anthropic/index.js';
import { isProviderError } from '../../../src/core/errors.js';
import { isModelProvider } from '../../../src/core/types.js';
import type { ChatChunk } from '../../../src/core/types.js';
import type { ApiProviderConfig } from '../../../src/config/types.js';
import { FAKE_KEY, FakeAnthropic, answerEvents, answerWith, sse } from '../../support/fake-anthropic.js';
import type { Step } from '../../support/fake-anthropic.js';

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

async function collect(it: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

test('shape: a ModelProvider that needs a key; defaults', async () => {
  const p = provider();
  assert.equal(p.name, 'anthropic');
  assert.equal(p.requiresApiKey, true);
  assert.equal(p.model, 'claude-sonnet-4-5');
  assert.equal(p.maxTokens, 4096);
  assert.deepEqual({ ...p.timeouts }, { connectMs: 10_000, loadMs: 120_000, idleMs: 60_000, requestMs: 0 });
  assert.ok(isModelProvider(p));
  await p.close();
});

test('fromConfig uses the loaded section and does not read the environment again', async () => {
  const config: ApiProviderConfig = {
    enabled: true,
    apiKey: FAKE_KEY,
    apiKeyEnv: 'ANTHROPIC_API_KEY',
    model: 'claude-haiku-4-5',
    baseUrl: `${fake.url}/v1`,
    timeouts: { connectMs: 1000, loadMs: 2000, idleMs: 3000, requestMs: 4000 },
    maxTokens: 321,
  };
  const p = AnthropicProvider.fromConfig(config);
  assert.equal(p.model, 'claude-haiku-4-5');
  assert.equal(p.maxTokens, 321);
  // A habitual /v1 suffix is taken off so paths are not doubled.
  assert.equal(p.baseUrl, fake.url);
  assert.deepEqual({ ...p.timeouts }, config.timeouts);
  fake.once('POST', '/v1/messages', answerWith({ blocks: [{ text: ['ok'] }] }));
  const res = await p.chat({ messages: [{ role: 'user', content: 'x' }] });
  assert.equal(res.message.content, 'ok');
  assert.equal((fake.last('/v1/messages').json as { max_tokens: number }).max_tokens, 321);
  await p.close();
});

test('complete(): headers, top-level system, history, non-streamed Message parsed into text and metadata', async () => {
  fake.once('POST', '/v1/messages', answerWith({ blocks: [{ text: ['Hel', 'lo!'] }], inputTokens: 20, cacheReadTokens: 5, outputTokens: 3 }));
  const p = provider();
  const out = await p.complete({
    systemPrompt: 'Be brief.',
    history: [
      { role: 'user', content: 'earlier' },
      { role: 'assistant', content: 'reply' },
    ],
    currentMessage: 'now',
  });
  const req = fake.last('/v1/messages');
  assert.equal(req.headers['x-api-key'], FAKE_KEY);
  assert.equal(req.headers['anthropic-version'], '2023-06-01');
  assert.match(String(req.headers['content-type']), /application\/json/);
  assert.deepEqual(req.json, {
    model: 'claude-sonnet-4-5',
    max_tokens: 4096,
    system: 'Be brief.',
    messages: [
      { role: 'user', content: 'earlier' },
      { role: 'assistant', content: 'reply' },
      { role: 'user', content: 'now' },
    ],
  });
  assert.equal(out.text, 'Hello!');
  const m = out.metadata;
  assert.equal(m.providerUsed, 'anthropic');
  assert.equal(m.model, 'claude-sonnet-4-5-20250929');
  assert.equal(m.promptTokens, 25);
  assert.equal(m.completionTokens, 3);
  assert.equal(m.tokensUsed, 28);
  assert.equal(m.doneReason, 'stop');
  assert.ok(m.processingTimeMs >= 0 && m.processingTimeMs < 10_000);
  await p.close();
});

test('chat(): thinking and tool calls of a non-streamed answer; context.model and stop reasons', async () => {
  fake.once(
    'POST',
    '/v1/messages',
    answerWith({
      model: 'claude-opus-4-1',
      blocks: [{ thinking: ['hmm'] }, { text: ['Checking.'] }, { tool: { id: 'toolu_9', name: 'weather', json: ['{"city":"Oslo"}'] } }],
      stopReason: 'tool_use',
    }),
  );
  const p = provider();
  const res = await p.chat({ model: 'claude-opus-4-1', messages: [{ role: 'user', content: 'weather?' }], think: 'low' });
  const body = fake.last('/v1/messages').json as Record<string, unknown>;
  assert.equal(body.model, 'claude-opus-4-1');
  assert.deepEqual(body.thinking, { type: 'enabled', budget_tokens: 1024 });
  assert.equal(body.max_tokens, 4096 + 1024);
  assert.equal(res.message.content, 'Checking.');
  assert.equal(res.message.thinking, 'hmm');
  assert.deepEqual(res.message.toolCalls, [{ id: 'toolu_9', name: 'weather', arguments: { city: 'Oslo' }, index: 0 }]);
  assert.equal(res.doneReason, 'tool_calls');
  assert.equal(res.model, 'claude-opus-4-1');

  fake.once('POST', '/v1/messages', answerWith({ blocks: [{ text: ['cut'] }], stopReason: 'max_tokens' }));
  assert.equal((await p.chat({ messages: [{ role: 'user', content: 'x' }] })).doneReason, 'length');
  await p.close();
});

test('chatStream(): deltas as chunks, then a final chunk with stop reason, usage and model', async () => {
  fake.once('POST', '/v1/messages', answerWith({ blocks: [{ text: ['Hel', 'lo', '!'] }], inputTokens: 9, outputTokens: 4 }));
  const p = provider();
  const chunks = await collect(p.chatStream({ messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'hi' }] }));
  const req = fake.last('/v1/messages');
  assert.equal((req.json as { stream?: boolean }).stream, true);
  assert.equal((req.json as { system?: string }).system, 'S');
  assert.equal(req.headers.accept, 'text/event-stream');
  assert.deepEqual(
    chunks.map((c) => [c.content, c.done]),
    [
      ['Hel', false],
      ['lo', false],
      ['!', false],
      ['', true],
    ],
  );
  const last = chunks.at(-1)!;
  assert.equal(last.doneReason, 'stop');
  assert.deepEqual(last.usage, { promptTokens: 9, completionTokens: 4, totalTokens: 13 });
  assert.equal(last.model, 'claude-sonnet-4-5-20250929');
  await p.close();
});

test('chatStream(): tool use assembled from input_json_delta fragments; tool results go back as tool_result blocks', async () => {
  fake.once(
    'POST',
    '/v1/messages',
    answerWith({
      blocks: [
        { text: ['I will look that up.'] },
        { tool: { id: 'toolu_A', name: 'search', json: ['', '{"q', 'uery": "ca', 't\\"s", "n": ', '3}'] } },
        { tool: { id: 'toolu_B', name: 'clock', json: [] } },
      ],
      stopReason: 'tool_use',
    }),
  );
  const p = provider();
  const chunks = await collect(
    p.chatStream({
      messages: [{ role: 'user', content: 'find cats' }],
      tools: [{ type: 'function', function: { name: 'search', parameters: { type: 'object' } } }],
    }),
  );
  const calls = chunks.flatMap((c) => c.toolCalls ?? []);
  assert.deepEqual(calls, [
    { id: 'toolu_A', name: 'search', arguments: { query: 'cat"s', n: 3 }, index: 0 },
    { id: 'toolu_B', name: 'clock', arguments: {}, index: 1 },
  ]);
  assert.equal(chunks.at(-1)?.doneReason, 'tool_calls');
  assert.deepEqual((fake.last('/v1/messages').json as { tools: unknown }).tools, [{ name: 'search', input_schema: { type: 'object' } }]);

  fake.once('POST', '/v1/messages', answerWith({ blocks: [{ text: ['3 cats found'] }] }));
  const answer = await p.chat({
    messages: [
      { role: 'user', content: 'find cats' },
      { role: 'assistant', content: 'I will look that up.', toolCalls: calls },
      { role: 'tool', content: 'cat1, cat2, cat3', toolCallId: 'toolu_A', toolName: 'search' },
      { role: 'tool', content: '12:00', toolCallId: 'toolu_B', toolName: 'clock' },
    ],
  });
  assert.equal(answer.message.content, '3 cats found');
  const sent = (fake.last('/v1/messages').json as { messages: unknown[] }).messages;
  assert.deepEqual(sent.at(-1), {
    role: 'user',
    content: [
      { type: 'tool_result', tool_use_id: 'toolu_A', content: 'cat1, cat2, cat3' },
      { type: 'tool_result', tool_use_id: 'toolu_B', content: '12:00' },
    ],
  });
  await p.close();
});

test('chatStream(): thinking deltas arrive as thinking, signatures are dropped', async () => {
  fake.once('POST', '/v1/messages', answerWith({ blocks: [{ thinking: ['First, ', 'reason.'], signature: 'SIGNATURE-XYZ' }, { text: ['Answer.'] }] }));
  const p = provider();
  const chunks = await collect(p.chatStream({ messages: [{ role: 'user', content: 'q' }], think: true }));
  assert.equal(chunks.map((c) => c.thinking ?? '').join(''), 'First, reason.');
  assert.equal(chunks.map((c) => c.content).join(''), 'Answer.');
  assert.equal(JSON.stringify(chunks).includes('SIGNATURE-XYZ'), false);
  assert.deepEqual((fake.last('/v1/messages').json as { thinking: unknown }).thinking, { type: 'enabled', budget_tokens: 4096 });
  await p.close();
});

test('chatStream(): over the network one byte per write, multi-byte characters included', async () => {
  const bytes = Buffer.from(
    answerEvents({ blocks: [{ thinking: ['ß…'] }, { text: ['Grüße ', '🌍!'] }, { tool: { id: 't1', name: 'f', json: ['{"k":"v€"}'] } }] }).join(''),
  );
  const steps: Step[] = [];
  for (let i = 0; i < bytes.length; i++) {
    steps.push({ write: bytes.subarray(i, i + 1) });
    // A pause now and then so the client really receives separate pieces.
    if (i % 7 === 0) steps.push({ delay: 1 });
  }
  fake.once('POST', '/v1/messages', { steps });
  const p = provider();
  const chunks = await collect(p.chatStream({ messages: [{ role: 'user', content: 'x' }] }));
  assert.equal(chunks.map((c) => c.content).join(''), 'Grüße 🌍!');
  assert.equal(chunks.map((c) => c.thinking ?? '').join(''), 'ß…');
  assert.deepEqual(chunks.flatMap((c) => c.toolCalls ?? []), [{ id: 't1', name: 'f', arguments: { k: 'v€' }, index: 0 }]);
  assert.equal(chunks.filter((c) => c.done).length, 1);
  await p.close();
});

test('chatStream(): an error event mid-stream is a ProviderError with the partial text', async () => {
  const events = answerEvents({ blocks: [{ text: ['Half an ', 'answer'] }] });
  fake.once('POST', '/v1/messages', {
    steps: [
      { write: events.slice(0, 5).join('') },
      { delay: 20 },
      { write: sse('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }) },
    ],
  });
  const p = provider();
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const c of p.chatStream({ messages: [{ role: 'user', content: 'x' }] })) seen.push(c.content);
    })(),
    (e) => {
      assert.ok(isProviderError(e, 'busy'));
      assert.equal(e.retryable, true);
      assert.equal(e.partialText, 'Half an answer');
      return true;
    },
  );
  assert.deepEqual(seen, ['Half an ', 'answer']);
  await p.close();
});

test('chatStream(): leaving the loop early closes the request', async () => {
  const events = answerEvents({ blocks: [{ text: ['one', 'two'] }] });
  fake.once('POST', '/v1/messages', { steps: [{ write: events.slice(0, 4).join('') }, { hang: true }] });
  const p = provider();
  for await (const c of p.chatStream({ messages: [{ role: 'user', content: 'x' }] })) {
    assert.equal(c.content, 'one');
    break;
  }
  const req = fake.last('/v1/messages');
  await fake.waitFor(() => req.over, 5000, 'the request to close');
  assert.equal(req.closedEarly, true);
  await p.close();
});

test('chatStream(): abort mid-stream fails with aborted, keeps the text so far, and closes the request', async () => {
  const events = answerEvents({ blocks: [{ text: ['so far'] }] });
  fake.once('POST', '/v1/messages', { steps: [{ write: events.slice(0, 4).join('') }, { hang: true }] });
  const p = provider();
  const controller = new AbortController();
  const it = p.chatStream({ messages: [{ role: 'user', content: 'x' }] }, { signal: controller.signal })[Symbol.asyncIterator]();
  assert.equal((await it.next()).value?.content, 'so far');
  const pending = it.next();
  controller.abort();
  await assert.rejects(pending, (e) => isProviderError(e, 'aborted') && e.partialText === 'so far' && !e.retryable);
  const req = fake.last('/v1/messages');
  await fake.waitFor(() => req.over, 5000, 'the request to close');
  assert.equal(req.closedEarly, true);
  await p.close();
});

test('a stream never started sends nothing; an aborted signal fails before sending', async () => {
  const before = fake.requests.length;
  const p = provider();
  p.chatStream({ messages: [{ role: 'user', content: 'x' }] });
  await assert.rejects(
    collect(p.chatStream({ messages: [{ role: 'user', content: 'x' }] }, { signal: AbortSignal.abort() })),
    (e) => isProviderError(e, 'aborted'),
  );
  await assert.rejects(p.chat({ messages: [{ role: 'user', content: 'x' }] }, { signal: AbortSignal.abort() }), (e) =>
    isProviderError(e, 'aborted'),
  );
  assert.equal(fake.requests.length, before);
  await p.close();
});

test('timeouts by phase: no headers within load, silence mid-stream beyond idle', async () => {
  const p = provider({ timeouts: { loadMs: 150, idleMs: 150 } });
  fake.once('POST', '/v1/messages', { hang: true });
  await assert.rejects(p.chat({ messages: [{ role: 'user', content: 'x' }] }), (e) => {
    assert.ok(isProviderError(e, 'timeout'));
    assert.equal(e.phase, 'load');
    assert.match(e.message, /raise timeouts\.loadMs/);
    assert.equal(e.setting?.configKey, 'provider.anthropic.timeouts.load');
    assert.match(e.message, /stream/);
    return true;
  });
  const events = answerEvents({ blocks: [{ text: ['slow'] }] });
  fake.once('POST', '/v1/messages', { steps: [{ write: events.slice(0, 4).join('') }, { hang: true }] });
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const c of p.chatStream({ messages: [{ role: 'user', content: 'x' }] })) seen.push(c.content);
    })(),
    (e) => isProviderError(e, 'timeout') && e.phase === 'idle' && e.partialText === 'slow' && /timeouts\.idle/.test(e.message),
  );
  assert.deepEqual(seen, ['slow']);
  // Per-call timeouts override the provider's.
  fake.once('POST', '/v1/messages', { delayMs: 400, body: { content: [] } });
  await assert.rejects(
    provider().chat({ messages: [{ role: 'user', content: 'x' }] }, { timeouts: { loadMs: 100 } }),
    (e) => isProviderError(e, 'timeout') && e.phase === 'load',
  );
  await p.close();
});

test('images go as base64 image blocks before the text', async () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]).toString('base64');
  fake.once('POST', '/v1/messages', answerWith({ blocks: [{ text: ['a chart'] }] }));
  const p = provider();
  await p.chat({ messages: [{ role: 'user', content: 'what is this?', images: [`data:image/png;base64,${png}`] }] });
  assert.deepEqual((fake.last('/v1/messages').json as { messages: unknown[] }).messages, [
    {
      role: 'user',
      content: [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
        { type: 'text', text: 'what is this?' },
      ],
    },
  ]);
  await p.close();
});
