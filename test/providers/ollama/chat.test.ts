import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OllamaProvider } from '../../../src/providers/ollama/index.js';
import { isProviderError } from '../../../src/core/errors.js';
import type { ChatChunk } from '../../../src/core/types.js';
import { FakeOllama, chatAnswer, chatLine, chatText, doneLine, ndjson } from '../../support/fake-ollama.js';
import type { Step } from '../../support/fake-ollama.js';

let fake: FakeOllama;
before(async () => {
  fake = await FakeOllama.start();
});
after(async () => {
  await fake.close();
});

function provider(extra: ConstructorParameters<typeof OllamaProvider>[0] = {}): OllamaProvider {
  return new OllamaProvider({ baseUrl: fake.url, env: {}, ...extra });
}

async function collect(it: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

test('complete(): system prompt, history and the user message, then text and metadata', async () => {
  fake.once('POST', '/api/chat', chatText(['Hel', 'lo', '!']));
  const p = provider();
  const out = await p.complete({
    systemPrompt: 'Be brief.',
    history: [
      { role: 'user', content: 'earlier' },
      { role: 'assistant', content: 'reply' },
    ],
    currentMessage: 'now',
  });
  const req = fake.requestsTo('/api/chat').at(-1)!.json as Record<string, unknown>;
  assert.deepEqual(req.messages, [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'earlier' },
    { role: 'assistant', content: 'reply' },
    { role: 'user', content: 'now' },
  ]);
  assert.equal(req.model, 'llama3');
  assert.equal(req.stream, false);
  assert.equal('keep_alive' in req, false);
  assert.equal(out.text, 'Hello!');
  const m = out.metadata;
  assert.equal(m.providerUsed, 'ollama');
  assert.equal(m.model, 'llama3');
  assert.equal(m.promptTokens, 10);
  assert.equal(m.completionTokens, 20);
  assert.equal(m.tokensUsed, 30);
  assert.equal(m.doneReason, 'stop');
  assert.equal(m.timings?.loadMs, 500);
  assert.equal(m.timings?.evalMs, 1000);
  assert.equal(m.timings?.totalMs, 2000);
  assert.equal(m.timings?.tokensPerSecond, 20);
  assert.ok(m.processingTimeMs >= 0 && m.processingTimeMs < 10_000);
  await p.close();
});

test('complete(): an empty system prompt is not sent, and context.model overrides', async () => {
  fake.once('POST', '/api/chat', chatText(['ok']));
  const p = provider();
  await p.complete({ systemPrompt: '  ', history: [], currentMessage: 'hi', model: 'qwen3:0.6b' });
  const req = fake.requestsTo('/api/chat').at(-1)!.json as Record<string, unknown>;
  assert.deepEqual(req.messages, [{ role: 'user', content: 'hi' }]);
  assert.equal(req.model, 'qwen3:0.6b');
  await p.close();
});

test('provider keepAlive and options go on the wire; request values win', async () => {
  fake.route('POST', '/api/chat', chatText(['ok']));
  const p = provider({ keepAlive: '10m', options: { temperature: 0.2, num_ctx: 2048 } });
  await p.chat({ messages: [{ role: 'user', content: 'a' }] });
  let req = fake.requestsTo('/api/chat').at(-1)!.json as Record<string, unknown>;
  assert.equal(req.keep_alive, '10m');
  assert.deepEqual(req.options, { temperature: 0.2, num_ctx: 2048 });
  await p.chat({
    messages: [{ role: 'user', content: 'a', images: ['data:image/png;base64,QUJD'] }],
    keepAlive: -1,
    options: { temperature: 1 },
    format: 'json',
    think: false,
  });
  req = fake.requestsTo('/api/chat').at(-1)!.json as Record<string, unknown>;
  assert.equal(req.keep_alive, -1);
  assert.deepEqual(req.options, { temperature: 1, num_ctx: 2048 });
  assert.equal(req.format, 'json');
  assert.equal(req.think, false);
  assert.deepEqual((req.messages as { images: string[] }[])[0]!.images, ['QUJD']);
  await p.close();
});

test('fromConfig: model, keep_alive and options reach the wire', async () => {
  fake.once('POST', '/api/chat', chatText(['ok']));
  const p = OllamaProvider.fromConfig({
    enabled: true,
    baseUrl: fake.url,
    model: 'qwen3:0.6b',
    keepAlive: 300,
    timeouts: { connectMs: 1000, loadMs: 2000, idleMs: 3000, requestMs: 0 },
    options: { seed: 7 },
    baseUrlSource: 'config',
  });
  await p.complete({ systemPrompt: '', history: [], currentMessage: 'hi' });
  const req = fake.requestsTo('/api/chat').at(-1)!.json as Record<string, unknown>;
  assert.equal(req.model, 'qwen3:0.6b');
  assert.equal(req.keep_alive, 300);
  assert.deepEqual(req.options, { seed: 7 });
  await p.close();
});

test('chatStream yields deltas in order, then the final chunk with usage', async () => {
  fake.once('POST', '/api/chat', chatText(['a', 'b', 'c']));
  const p = provider();
  const chunks = await collect(p.chatStream({ messages: [{ role: 'user', content: 'x' }] }));
  assert.equal((fake.requestsTo('/api/chat').at(-1)!.json as { stream: unknown }).stream, true);
  assert.deepEqual(
    chunks.map((c) => c.content),
    ['a', 'b', 'c', ''],
  );
  const last = chunks.at(-1)!;
  assert.equal(last.done, true);
  assert.equal(last.doneReason, 'stop');
  assert.deepEqual(last.usage, { promptTokens: 10, completionTokens: 20, totalTokens: 30 });
  assert.equal(chunks.filter((c) => c.done).length, 1);
  await p.close();
});

test('tool calls arrive as objects on an intermediate chunk and on the final chunk; chat() concatenates them', async () => {
  const script = chatAnswer([
    chatLine('', { message: { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Tokyo' } } }] } }),
    doneLine({
      message: {
        role: 'assistant',
        content: '',
        tool_calls: [{ function: { index: 1, name: 'get_weather', arguments: { city: 'Paris' } } }],
      },
    }),
  ]);
  fake.once('POST', '/api/chat', script);
  fake.once('POST', '/api/chat', script);
  const p = provider();
  const tools = [
    {
      type: 'function' as const,
      function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    },
  ];
  const chunks = await collect(p.chatStream({ messages: [{ role: 'user', content: 'weather?' }], tools }));
  assert.deepEqual(chunks[0]!.toolCalls, [{ name: 'get_weather', arguments: { city: 'Tokyo' } }]);
  assert.deepEqual(chunks[1]!.toolCalls, [{ name: 'get_weather', arguments: { city: 'Paris' }, index: 1 }]);
  assert.deepEqual((fake.requestsTo('/api/chat').at(-1)!.json as { tools: unknown }).tools, tools);

  const res = await p.chat({ messages: [{ role: 'user', content: 'weather?' }], tools });
  assert.deepEqual(res.message.toolCalls, [
    { name: 'get_weather', arguments: { city: 'Tokyo' } },
    { name: 'get_weather', arguments: { city: 'Paris' }, index: 1 },
  ]);
  await p.close();
});

test('thinking deltas are kept apart from content', async () => {
  const answer = chatAnswer([
    chatLine('', { message: { role: 'assistant', content: '', thinking: 'Let me ' } }),
    chatLine('', { message: { role: 'assistant', content: '', thinking: 'think.' } }),
    chatLine('Answer'),
    doneLine(),
  ]);
  fake.once('POST', '/api/chat', answer);
  fake.once('POST', '/api/chat', answer);
  const p = provider();
  const res = await p.chat({ messages: [{ role: 'user', content: 'q' }], think: true });
  assert.equal(res.message.thinking, 'Let me think.');
  assert.equal(res.message.content, 'Answer');
  const chunks = await collect(p.chatStream({ messages: [{ role: 'user', content: 'q' }], think: true }));
  assert.deepEqual(
    chunks.map((c) => [c.thinking, c.content]),
    [
      ['Let me ', ''],
      ['think.', ''],
      [undefined, 'Answer'],
      [undefined, ''],
    ],
  );
  assert.equal((fake.requestsTo('/api/chat').at(-1)!.json as { think: unknown }).think, true);
  await p.close();
});

test('a stream that ends without done finishes with doneReason incomplete and keeps its text', async () => {
  fake.once('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('repeat '), chatLine('repeat')) }] });
  // Non-streamed, Ollama aggregates and reports the last chunk's done:false.
  fake.once('POST', '/api/chat', chatAnswer([chatLine('partial')]));
  const p = provider();
  const chunks = await collect(p.chatStream({ messages: [{ role: 'user', content: 'x' }] }));
  assert.deepEqual(chunks.at(-1), { content: '', done: true, doneReason: 'incomplete', model: 'llama3' });
  assert.equal(chunks.map((c) => c.content).join(''), 'repeat repeat');
  const res = await p.chat({ messages: [{ role: 'user', content: 'x' }] });
  assert.equal(res.message.content, 'partial');
  assert.equal(res.doneReason, 'incomplete');
  await p.close();
});

test('a last line without a trailing newline is still read', async () => {
  fake.once('POST', '/api/chat', { steps: [{ write: `${JSON.stringify(chatLine('x'))}\n${JSON.stringify(doneLine())}` }] });
  const p = provider();
  const chunks = await collect(p.chatStream({ messages: [{ role: 'user', content: 'x' }] }));
  assert.deepEqual(
    chunks.map((c) => [c.content, c.done, c.doneReason]),
    [
      ['x', false, undefined],
      ['', true, 'stop'],
    ],
  );
  await p.close();
});

test('an {"error"} line after 200 is a ProviderError with Ollama\'s text and the partial text', async () => {
  const text =
    'model runner has unexpectedly stopped, this may be due to resource limitations or an internal error, check ollama server logs for details';
  fake.once('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('Once upon'), { error: text }) }] });
  const p = provider();
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const c of p.chatStream({ messages: [{ role: 'user', content: 'x' }] })) seen.push(c.content);
    })(),
    (e: unknown) => {
      assert.ok(isProviderError(e, 'server_error'));
      assert.equal(e.providerMessage, text);
      assert.ok(e.message.includes(text));
      assert.equal(e.partialText, 'Once upon');
      return true;
    },
  );
  assert.deepEqual(seen, ['Once upon']);
  await p.close();
});

test('a bad format is bad_request: a 200 {"error"} line streamed, a 500 non-streamed (0.9.6)', async () => {
  const text = 'invalid format: "\\"xml\\""; expected "json" or a valid JSON Schema object';
  fake.once('POST', '/api/chat', { steps: [{ write: ndjson({ error: text }) }] });
  fake.once('POST', '/api/chat', { status: 500, body: { error: text } });
  const p = provider();
  const check = (e: unknown) => {
    assert.ok(isProviderError(e, 'bad_request'));
    assert.match(e.message, /invalid format/);
    assert.equal(e.providerMessage, text);
    return true;
  };
  await assert.rejects(collect(p.chatStream({ messages: [{ role: 'user', content: 'x' }] })), check);
  await assert.rejects(p.chat({ messages: [{ role: 'user', content: 'x' }] }), check);
  await p.close();
});

test('a connection reset mid-stream is connection_lost carrying the partial text', async () => {
  fake.once('POST', '/api/chat', {
    steps: [{ write: ndjson(chatLine('Hello'), chatLine(' wor')) }, { delay: 30 }, { reset: true }],
  });
  const p = provider();
  await assert.rejects(collect(p.chatStream({ messages: [{ role: 'user', content: 'x' }] })), (e: unknown) => {
    assert.ok(isProviderError(e, 'connection_lost'));
    assert.equal(e.partialText, 'Hello wor');
    assert.equal(e.retryable, true);
    return true;
  });
  await p.close();
});

test('a reset after the final chunk loses nothing', async () => {
  fake.once('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('done'), doneLine()) }, { delay: 30 }, { reset: true }] });
  const p = provider();
  const chunks = await collect(p.chatStream({ messages: [{ role: 'user', content: 'x' }] }));
  assert.equal(chunks.map((c) => c.content).join(''), 'done');
  assert.equal(chunks.at(-1)!.doneReason, 'stop');
  await p.close();
});

test('leaving for-await early cancels the HTTP request', async () => {
  const steps: Step[] = [];
  for (let i = 0; i < 100; i++) steps.push({ write: ndjson(chatLine(`${i} `)) }, { delay: 20 });
  fake.once('POST', '/api/chat', { steps });
  const p = provider();
  let n = 0;
  for await (const c of p.chatStream({ messages: [{ role: 'user', content: 'x' }] })) {
    assert.equal(c.content, `${n} `);
    if (++n === 2) break;
  }
  const req = fake.requestsTo('/api/chat').at(-1)!;
  await fake.waitFor(() => req.closedEarly, 2000, 'the server to see the client go');
  await p.close();
});

test('breaking right after the final chunk does not cut the connection', async () => {
  fake.route('POST', '/api/chat', chatText(['a']));
  const p = provider();
  const before = fake.connections;
  const first = fake.requestsTo('/api/chat').length;
  for (let i = 0; i < 5; i++) {
    for await (const c of p.chatStream({ messages: [{ role: 'user', content: 'x' }] })) {
      if (c.done) break;
    }
  }
  const mine = () => fake.requestsTo('/api/chat').slice(first);
  assert.equal(mine().length, 5);
  await fake.waitFor(() => mine().every((r) => r.over), 2000, 'responses to end');
  assert.equal(mine().filter((r) => r.closedEarly).length, 0);
  assert.ok(fake.connections - before <= 2);
  await p.close();
});

test('a stream split at every byte boundary of a multi-byte sample decodes exactly', async () => {
  const sample = 'héllo 世界 🙂';
  const bytes = Buffer.from(ndjson(chatLine(sample), chatLine('ü🙂'), doneLine()), 'utf8');
  const p = provider();
  for (let i = 1; i < bytes.length; i++) {
    fake.once('POST', '/api/chat', {
      steps: [{ write: bytes.subarray(0, i) }, { delay: 2 }, { write: bytes.subarray(i) }],
    });
    const chunks = await collect(p.chatStream({ messages: [{ role: 'user', content: 'x' }] }));
    assert.deepEqual(
      chunks.map((c) => c.content),
      [sample, 'ü🙂', ''],
      `split at byte ${i}`,
    );
    assert.equal(chunks.at(-1)!.doneReason, 'stop');
  }
  await p.close();
});

test('200 concurrent streams all complete with their own content', async () => {
  fake.route('POST', '/api/chat', (req) => {
    const id = ((req.json as { messages: { content: string }[] }).messages[0]!.content);
    const steps: Step[] = [];
    for (let i = 0; i < 5; i++) steps.push({ write: ndjson(chatLine(`${id}-${i};`)) }, { delay: 5 });
    steps.push({ write: ndjson(doneLine()) });
    return { steps };
  });
  const p = provider();
  const results = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      let text = '';
      for await (const c of p.chatStream({ messages: [{ role: 'user', content: `s${i}` }] })) text += c.content;
      return text;
    }),
  );
  results.forEach((text, i) => assert.equal(text, `s${i}-0;s${i}-1;s${i}-2;s${i}-3;s${i}-4;`));
  await p.close();
});

test('unload() posts an empty chat with keep_alive 0 and stream false', async () => {
  fake.once('POST', '/api/chat', {
    body: { model: 'llama3', created_at: 'x', message: { role: 'assistant', content: '' }, done_reason: 'unload', done: true },
  });
  const p = provider();
  await p.unload('llama3');
  assert.deepEqual(fake.requestsTo('/api/chat').at(-1)!.json, {
    model: 'llama3',
    messages: [],
    keep_alive: 0,
    stream: false,
  });
  await p.close();
});
