import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OpenAIProvider } from '../../../src/providers/openai/index.js';
import { ProviderError } from '../../../src/core/errors.js';
import type { ChatChunk, ChatRequest } from '../../../src/core/types.js';
import {
  DONE,
  FakeOpenAI,
  deltaChunk,
  finishChunk,
  sse,
  sseScript,
  sseThenHang,
  textChunk,
  textStream,
  toolCallChunks,
  usageChunk,
} from '../../support/fake-openai.js';

const KEY = 'sk-test-chat-0123456789abcdef';

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

const HI: ChatRequest = { messages: [{ role: 'user', content: 'hi' }] };

async function collect(iterable: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const c of iterable) out.push(c);
  return out;
}

test('a streamed answer: deltas in order, then one final chunk with finish reason, usage and the served model', async () => {
  fake.once('POST', '/chat/completions', sseScript(textStream(['Hel', 'lo ', 'wörld 🙂'], { model: 'gpt-test-2025', usage: [12, 4] })));
  const p = provider();
  const chunks = await collect(p.chatStream(HI));
  assert.deepEqual(
    chunks.filter((c) => !c.done).map((c) => c.content),
    ['Hel', 'lo ', 'wörld 🙂'],
  );
  const last = chunks.at(-1) as ChatChunk;
  assert.equal(chunks.filter((c) => c.done).length, 1);
  assert.equal(last.done, true);
  assert.equal(last.doneReason, 'stop');
  assert.equal(last.model, 'gpt-test-2025');
  assert.deepEqual(last.usage, { promptTokens: 12, completionTokens: 4, totalTokens: 16 });
  await p.close();
});

test('the request: Bearer key, streaming with usage, messages, tools, format, reasoning level and options', async () => {
  fake.once('POST', '/chat/completions', sseScript(textStream(['ok'])));
  const p = provider({ maxTokens: 256 });
  const tools = [
    { type: 'function' as const, function: { name: 'get_weather', description: 'w', parameters: { type: 'object' } } },
  ];
  const png = 'iVBORw0KGgoAAAANSUhEUg==';
  await p.chat({
    model: 'gpt-other',
    messages: [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'look', images: [png, 'data:image/jpeg;base64,/9j/4AAQ'] },
      { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: { city: 'Oslo' } }] },
      { role: 'tool', content: '{"temp":3}', toolCallId: 'call_1', toolName: 'get_weather' },
      { role: 'assistant', content: '', toolCalls: [{ name: 'get_weather', arguments: { city: 'Rome' } }] },
      { role: 'tool', content: '{"temp":20}', toolName: 'get_weather' },
    ],
    tools,
    format: 'json',
    think: 'high',
    options: { temperature: 0.2, num_predict: 50, num_ctx: 8192, seed: 7, stop: ['\n'], user: 'u1' },
  });
  const req = fake.last('/chat/completions');
  assert.equal(req.headers.authorization, `Bearer ${KEY}`);
  assert.equal(req.headers['content-type'], 'application/json');
  const body = req.json as Record<string, unknown>;
  assert.equal(body.model, 'gpt-other');
  assert.equal(body.stream, true);
  assert.deepEqual(body.stream_options, { include_usage: true });
  assert.deepEqual(body.tools, tools);
  assert.deepEqual(body.response_format, { type: 'json_object' });
  assert.equal(body.reasoning_effort, 'high');
  assert.equal(body.temperature, 0.2);
  assert.equal(body.seed, 7);
  assert.deepEqual(body.stop, ['\n']);
  assert.equal(body.user, 'u1', 'unknown options pass through');
  assert.equal(body.max_tokens, 50, 'num_predict wins over the configured limit; a compatible server gets max_tokens');
  assert.equal('num_ctx' in body, false, 'Ollama-only options are dropped');
  assert.deepEqual(body.messages, [
    { role: 'system', content: 'be brief' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'look' },
        { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
        { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQ' } },
      ],
    },
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }],
    },
    { role: 'tool', tool_call_id: 'call_1', content: '{"temp":3}' },
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_4_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }],
    },
    { role: 'tool', tool_call_id: 'call_4_0', content: '{"temp":20}' },
  ]);
  await p.close();
});

test('a JSON schema becomes response_format json_schema; think true sends no level; the configured limit applies', async () => {
  fake.once('POST', '/chat/completions', sseScript(textStream(['{}'])));
  const p = provider({ maxTokens: 256 });
  const schema = { title: 'Weather report', type: 'object', properties: { t: { type: 'number' } } };
  await p.chat({ ...HI, format: schema, think: true });
  const body = fake.last('/chat/completions').json as Record<string, unknown>;
  assert.deepEqual(body.response_format, { type: 'json_schema', json_schema: { name: 'Weather_report', schema } });
  assert.equal('reasoning_effort' in body, false);
  assert.equal(body.max_tokens, 256);
  await p.close();
});

test('at api.openai.com the limit is sent as max_completion_tokens (default base URL, connection routed to the fake)', async () => {
  fake.server.once('POST', '/v1/chat/completions', sseScript(textStream(['ok'])));
  const p = new OpenAIProvider({ apiKey: KEY, env: {}, maxTokens: 99, connect: fake.connector });
  assert.equal(p.baseUrl, 'https://api.openai.com/v1');
  assert.equal(p.model, 'gpt-4o-mini');
  await p.chat(HI);
  const req = fake.last('/chat/completions');
  const body = req.json as Record<string, unknown>;
  assert.equal(req.headers.host, 'api.openai.com');
  assert.equal(body.max_completion_tokens, 99);
  assert.equal('max_tokens' in body, false);
  assert.equal(body.model, 'gpt-4o-mini');
  await p.close();
});

/** An answer with every feature: multi-byte text, reasoning, two interleaved tool calls, usage. */
const FULL_CALLS = [
  { id: 'call_a', name: 'get_weather', args: '{"city":"Zürich","unit":"c"}' },
  { id: 'call_b', name: 'lookup', args: '{"q":"日本語 🙂","n":[1,2]}' },
];
const FULL_BODY =
  sse(deltaChunk({ role: 'assistant', reasoning_content: 'thinking… ' }), textChunk('Grüße '), textChunk('🙂'), ...toolCallChunks(FULL_CALLS, 4)) +
  ': keep-alive\n\n' +
  sse(finishChunk('tool_calls'), usageChunk(30, 9)) +
  DONE;

function checkFull(chunks: ChatChunk[], label: string): void {
  const text = chunks.map((c) => c.content).join('');
  const thinking = chunks.map((c) => c.thinking ?? '').join('');
  assert.equal(text, 'Grüße 🙂', label);
  assert.equal(thinking, 'thinking… ', label);
  const done = chunks.filter((c) => c.done);
  assert.equal(done.length, 1, label);
  assert.equal(chunks.at(-1)?.done, true, label);
  const last = done[0] as ChatChunk;
  assert.equal(last.doneReason, 'tool_calls', label);
  assert.deepEqual(last.usage, { promptTokens: 30, completionTokens: 9, totalTokens: 39 }, label);
  assert.deepEqual(
    last.toolCalls,
    [
      { id: 'call_a', index: 0, name: 'get_weather', arguments: { city: 'Zürich', unit: 'c' } },
      { id: 'call_b', index: 1, name: 'lookup', arguments: { q: '日本語 🙂', n: [1, 2] } },
    ],
    label,
  );
}

test('the SSE body cut at every byte boundary gives the same answer and tool calls', async () => {
  const bytes = Buffer.from(FULL_BODY, 'utf8');
  const p = provider();
  for (let i = 1; i < bytes.length; i++) {
    fake.once('POST', '/chat/completions', sseScript(bytes, [i], 1));
    checkFull(await collect(p.chatStream(HI)), `cut at byte ${i}`);
  }
  await p.close();
});

test('one byte per write also works', async () => {
  const bytes = Buffer.from(FULL_BODY, 'utf8');
  const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
  fake.once('POST', '/chat/completions', sseScript(bytes, cuts, 0));
  const p = provider();
  checkFull(await collect(p.chatStream(HI)), 'byte per write');
  await p.close();
});

test('chat() assembles the same answer, tool calls and usage in one response', async () => {
  fake.once('POST', '/chat/completions', sseScript(FULL_BODY));
  const p = provider();
  const res = await p.chat(HI);
  assert.equal(res.message.role, 'assistant');
  assert.equal(res.message.content, 'Grüße 🙂');
  assert.equal(res.message.thinking, 'thinking… ');
  assert.deepEqual(
    res.message.toolCalls?.map((c) => [c.id, c.name, c.arguments]),
    [
      ['call_a', 'get_weather', { city: 'Zürich', unit: 'c' }],
      ['call_b', 'lookup', { q: '日本語 🙂', n: [1, 2] }],
    ],
  );
  assert.equal(res.doneReason, 'tool_calls');
  assert.deepEqual(res.usage, { promptTokens: 30, completionTokens: 9, totalTokens: 39 });
  assert.equal(res.model, 'gpt-test');
  assert.ok(res.processingTimeMs >= 0);
  await p.close();
});

test('tool calls sent whole, without index (some compatible servers), are still assembled', async () => {
  const body =
    sse(
      deltaChunk({ tool_calls: [{ id: 'x1', type: 'function', function: { name: 'a', arguments: '{"k":1}' } }] }),
      deltaChunk({ tool_calls: [{ id: 'x2', type: 'function', function: { name: 'b', arguments: { k: 2 } } }] }),
      finishChunk('tool_calls'),
    ) + DONE;
  fake.once('POST', '/chat/completions', sseScript(body));
  const p = provider();
  const res = await p.chat(HI);
  assert.deepEqual(
    res.message.toolCalls?.map((c) => [c.id, c.name, c.arguments]),
    [
      ['x1', 'a', { k: 1 }],
      ['x2', 'b', { k: 2 }],
    ],
  );
  await p.close();
});

test('invalid tool-call JSON is a protocol error naming the tool (and the token limit when it was hit)', async () => {
  const bad = [{ id: 'c1', name: 'get_weather', args: '{"city":"Os' }];
  fake.once('POST', '/chat/completions', sseScript(sse(...toolCallChunks(bad), finishChunk('tool_calls')) + DONE));
  fake.once('POST', '/chat/completions', sseScript(sse(...toolCallChunks(bad), finishChunk('length')) + DONE));
  fake.once('POST', '/chat/completions', sseScript(sse(...toolCallChunks([{ id: 'c2', name: 'arr', args: '[1]' }]), finishChunk('tool_calls')) + DONE));
  const p = provider();
  await assert.rejects(p.chat(HI), (e: unknown) => {
    assert.ok(e instanceof ProviderError);
    assert.equal(e.code, 'protocol');
    assert.match(e.message, /tool 'get_weather'/);
    assert.doesNotMatch(e.message, /token limit/);
    return true;
  });
  await assert.rejects(p.chat(HI), (e: unknown) => e instanceof ProviderError && /get_weather.*token limit/.test(e.message));
  await assert.rejects(p.chat(HI), (e: unknown) => e instanceof ProviderError && e.code === 'protocol' && /'arr'.*not a JSON object/.test(e.message));
  await p.close();
});

test('a body that ends without finish reason or [DONE] ends with doneReason incomplete', async () => {
  fake.once('POST', '/chat/completions', sseScript(sse(textChunk('cut '), textChunk('short'))));
  const p = provider();
  const chunks = await collect(p.chatStream(HI));
  assert.equal(chunks.map((c) => c.content).join(''), 'cut short');
  assert.equal(chunks.at(-1)?.done, true);
  assert.equal(chunks.at(-1)?.doneReason, 'incomplete');
  await p.close();
});

test('a finish reason without [DONE], and a last event without its blank line, still finish normally', async () => {
  fake.once('POST', '/chat/completions', sseScript(sse(textChunk('a')) + `data: ${JSON.stringify(finishChunk('length'))}`));
  const p = provider();
  const res = await p.chat(HI);
  assert.equal(res.message.content, 'a');
  assert.equal(res.doneReason, 'length');
  await p.close();
});

test('a server that ignores stream:true and answers with one JSON completion works too', async () => {
  fake.once('POST', '/chat/completions', {
    body: {
      id: 'x',
      object: 'chat.completion',
      model: 'local-model',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'whole',
            tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
          },
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    },
  });
  const p = provider();
  const res = await p.chat(HI);
  assert.equal(res.message.content, 'whole');
  assert.deepEqual(res.message.toolCalls, [{ id: 't', index: 0, name: 'f', arguments: { a: 1 } }]);
  assert.equal(res.model, 'local-model');
  assert.equal(res.doneReason, 'tool_calls');
  assert.deepEqual(res.usage, { promptTokens: 3, completionTokens: 2, totalTokens: 5 });
  await p.close();
});

test('OpenRouter/Ollama-style `reasoning` deltas and refusals are passed on', async () => {
  fake.once(
    'POST',
    '/chat/completions',
    sseScript(sse(deltaChunk({ reasoning: 'hmm' }), deltaChunk({ refusal: 'I cannot help with that.' }), finishChunk()) + DONE),
  );
  const p = provider();
  const res = await p.chat(HI);
  assert.equal(res.message.thinking, 'hmm');
  assert.equal(res.message.content, 'I cannot help with that.');
  await p.close();
});

test('complete(): the system prompt is a system message and metadata names provider, model, tokens and reason', async () => {
  fake.once('POST', '/chat/completions', sseScript(textStream(['Hi', '!'], { model: 'gpt-test-x', usage: [7, 2] })));
  const p = provider();
  const out = await p.complete({
    systemPrompt: 'You are terse.',
    history: [
      { role: 'user', content: 'q1' },
      { role: 'assistant', content: 'a1' },
    ],
    currentMessage: 'q2',
    model: 'gpt-x',
  });
  assert.equal(out.text, 'Hi!');
  assert.equal(out.metadata.providerUsed, 'openai');
  assert.equal(out.metadata.model, 'gpt-test-x');
  assert.equal(out.metadata.tokensUsed, 9);
  assert.equal(out.metadata.promptTokens, 7);
  assert.equal(out.metadata.completionTokens, 2);
  assert.equal(out.metadata.doneReason, 'stop');
  const body = fake.last('/chat/completions').json as { model: string; messages: unknown[] };
  assert.equal(body.model, 'gpt-x');
  assert.deepEqual(body.messages, [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'q1' },
    { role: 'assistant', content: 'a1' },
    { role: 'user', content: 'q2' },
  ]);
  await p.close();
});

test('an error object mid-stream is a ProviderError with the text received so far', async () => {
  fake.once(
    'POST',
    '/chat/completions',
    sseScript(sse(textChunk('partial '), textChunk('answer'), { error: { message: 'The server had an error processing your request.', type: 'server_error', code: null } })),
  );
  const p = provider();
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const c of p.chatStream(HI)) seen.push(c.content);
    })(),
    (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      assert.equal(e.code, 'server_error');
      assert.equal(e.retryable, true);
      assert.equal(e.partialText, 'partial answer');
      // Defect 5: named by its URL at a custom base_url.
      assert.ok(e.message.startsWith(`${fake.url} failed mid-response: The server had an error`), e.message);
      return true;
    },
  );
  assert.deepEqual(seen, ['partial ', 'answer']);
  await p.close();
});

test('`event: error`, vLLM-style and numeric-code error events map to the right codes', async () => {
  fake.once('POST', '/chat/completions', sseScript('event: error\ndata: {"error":{"message":"Rate limit reached","type":"rate_limit_exceeded"}}\n\n'));
  fake.once('POST', '/chat/completions', sseScript(sse({ object: 'error', message: 'This model has a maximum context length of 4096', type: 'BadRequestError', code: 400 })));
  fake.once('POST', '/chat/completions', sseScript('event: error\ndata: upstream exploded\n\n'));
  const p = provider();
  await assert.rejects(p.chat(HI), (e: unknown) => e instanceof ProviderError && e.code === 'rate_limited' && e.retryable);
  await assert.rejects(
    p.chat(HI),
    (e: unknown) => e instanceof ProviderError && e.code === 'bad_request' && /maximum context length/.test(e.message),
  );
  await assert.rejects(p.chat(HI), (e: unknown) => e instanceof ProviderError && e.code === 'server_error' && /upstream exploded/.test(e.message));
  await p.close();
});

test('data that is not JSON is a protocol error', async () => {
  fake.once('POST', '/chat/completions', sseScript(sse(textChunk('x')) + 'data: {not json\n\n'));
  const p = provider();
  await assert.rejects(p.chat(HI), (e: unknown) => e instanceof ProviderError && e.code === 'protocol' && e.partialText === 'x');
  await p.close();
});

test('aborting mid-stream rejects with aborted, keeps the partial text and closes the request', async () => {
  fake.once('POST', '/chat/completions', sseThenHang(sse(textChunk('first '))));
  const p = provider();
  const ac = new AbortController();
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const c of p.chatStream(HI, { signal: ac.signal })) {
        seen.push(c.content);
        ac.abort();
      }
    })(),
    (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      assert.equal(e.code, 'aborted');
      assert.equal(e.retryable, false);
      assert.equal(e.partialText, 'first ');
      return true;
    },
  );
  assert.deepEqual(seen, ['first ']);
  const req = fake.last('/chat/completions');
  await fake.waitFor(() => req.over, 5000, 'the request to close');
  assert.equal(req.closedEarly, true);
  await p.close();
});

test('an already aborted signal sends nothing', async () => {
  const before = fake.requestsTo('/chat/completions').length;
  const p = provider();
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(p.chat(HI, { signal: ac.signal }), (e: unknown) => e instanceof ProviderError && e.code === 'aborted');
  assert.equal(fake.requestsTo('/chat/completions').length, before);
  await p.close();
});

test('leaving the for-await loop early closes the request', async () => {
  fake.once('POST', '/chat/completions', sseThenHang(sse(textChunk('one '), textChunk('two '))));
  const p = provider();
  for await (const c of p.chatStream(HI)) {
    assert.equal(c.content, 'one ');
    break;
  }
  const req = fake.last('/chat/completions');
  await fake.waitFor(() => req.over, 5000, 'the request to close');
  assert.equal(req.closedEarly, true);
  await p.close();
});

test('an iterator that is never iterated sends no request', async () => {
  const before = fake.requestsTo('/chat/completions').length;
  const p = provider();
  p.chatStream(HI);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(fake.requestsTo('/chat/completions').length, before);
  await p.close();
});

test('after [DONE] (also when the loop breaks on the final chunk) the response is let finish, not cut', async () => {
  const p = provider();
  fake.route('POST', '/chat/completions', sseScript(textStream(['a'])));
  const first = fake.requestsTo('/chat/completions').length;
  const before = fake.connections;
  for (let i = 0; i < 5; i++) {
    if (i % 2 === 0) {
      assert.equal((await p.chat(HI)).message.content, 'a');
    } else {
      for await (const c of p.chatStream(HI)) if (c.done) break;
    }
  }
  const mine = () => fake.requestsTo('/chat/completions').slice(first);
  assert.equal(mine().length, 5);
  await fake.waitFor(() => mine().every((r) => r.over), 2000, 'responses to end');
  assert.equal(mine().filter((r) => r.closedEarly).length, 0);
  assert.ok(fake.connections - before < 5, 'connections are reused');
  await p.close();
});
