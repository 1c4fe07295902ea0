import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildRequestBody,
  imageSource,
  sniffImageType,
  thinkingBudget,
  toDoneReason,
  toModelInfo,
  toWireMessages,
} from '../../../src/providers/anthropic/index.js';
import { streamMessages } from '../../../src/providers/anthropic/stream.js';
import type { ErrorContext } from '../../../src/providers/anthropic/errors.js';
import { isProviderError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { ChatChunk } from '../../../src/core/types.js';
import type { HttpResponse, ResponseBody } from '../../../src/http/transport.js';
import { answerEvents, sse } from '../../support/fake-anthropic.js';
import type { Answer } from '../../support/fake-anthropic.js';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]).toString('base64');
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46]).toString('base64');
const GIF = Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1').toString('base64');
const WEBP = Buffer.from('RIFF\x24\x00\x00\x00WEBPVP8 ', 'latin1').toString('base64');

test('sniffImageType recognises the four formats by their magic bytes', () => {
  assert.equal(sniffImageType(PNG), 'image/png');
  assert.equal(sniffImageType(JPEG), 'image/jpeg');
  assert.equal(sniffImageType(GIF), 'image/gif');
  assert.equal(sniffImageType(WEBP), 'image/webp');
  assert.equal(sniffImageType(Buffer.from('%PDF-1.7 hello').toString('base64')), undefined);
});

test('imageSource strips a data URL, trusting the bytes over the declared type', () => {
  assert.deepEqual(imageSource(`data:image/jpeg;base64,${PNG}`), { type: 'base64', media_type: 'image/png', data: PNG });
  assert.deepEqual(imageSource(JPEG), { type: 'base64', media_type: 'image/jpeg', data: JPEG });
  const odd = Buffer.from('not an image at all').toString('base64');
  assert.equal(imageSource(`data:image/webp;base64,${odd}`).media_type, 'image/webp');
  assert.throws(() => imageSource(odd), (e) => isProviderError(e, 'unsupported'));
});

test('toWireMessages: system merged, images before text, tool calls and results paired by id', () => {
  const { system, messages } = toWireMessages([
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'What is in this picture, and the weather?', images: [PNG] },
    {
      role: 'assistant',
      content: 'Let me check.',
      toolCalls: [
        { id: 'toolu_1', name: 'weather', arguments: { city: 'Paris' } },
        { name: 'time', arguments: {} },
      ],
    },
    { role: 'tool', content: '21°C', toolCallId: 'toolu_1', toolName: 'weather' },
    { role: 'tool', content: '12:00', toolName: 'time' },
    { role: 'system', content: 'Answer in French.' },
    { role: 'user', content: 'Thanks' },
  ]);
  assert.equal(system, 'Be brief.\n\nAnswer in French.');
  assert.deepEqual(messages, [
    {
      role: 'user',
      content: [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
        { type: 'text', text: 'What is in this picture, and the weather?' },
      ],
    },
    {
      role: 'assistant',
      content: [
        { type: 'text', text: 'Let me check.' },
        { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'toolu_omega_0', name: 'time', input: {} },
      ],
    },
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_1', content: '21°C' },
        { type: 'tool_result', tool_use_id: 'toolu_omega_0', content: '12:00' },
        { type: 'text', text: 'Thanks' },
      ],
    },
  ]);
});

test('toWireMessages: plain turns stay strings; thinking is not sent back; empty assistant turns are dropped', () => {
  const { system, messages } = toWireMessages([
    { role: 'user', content: 'a' },
    { role: 'assistant', content: 'b', thinking: 'secret reasoning' },
    { role: 'assistant', content: '' },
    { role: 'user', content: 'c' },
  ]);
  assert.equal(system, '');
  assert.deepEqual(messages, [
    { role: 'user', content: 'a' },
    { role: 'assistant', content: 'b' },
    { role: 'user', content: 'c' },
  ]);
});

test('buildRequestBody: max_tokens, tools, sampling options, stream flag', () => {
  const body = buildRequestBody(
    {
      messages: [{ role: 'user', content: 'hi' }],
      tools: [
        {
          type: 'function',
          function: { name: 'weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
        },
        { type: 'function', function: { name: 'noargs' } },
      ],
      options: { temperature: 0.2, top_p: 0.9, top_k: 40, stop: ['END'], seed: 1 },
    },
    { model: 'claude-x', maxTokens: 1000 },
    true,
  );
  assert.deepEqual(body, {
    model: 'claude-x',
    max_tokens: 1000,
    messages: [{ role: 'user', content: 'hi' }],
    tools: [
      { name: 'weather', description: 'Weather now', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
      { name: 'noargs', input_schema: { type: 'object', properties: {} } },
    ],
    temperature: 0.2,
    top_p: 0.9,
    top_k: 40,
    stop_sequences: ['END'],
    stream: true,
  });
  const plain = buildRequestBody({ model: 'm', messages: [{ role: 'user', content: 'x' }], options: { num_predict: 50 } }, { model: 'd', maxTokens: 1000 }, false);
  assert.equal(plain.max_tokens, 50);
  assert.equal(plain.model, 'm');
  assert.equal('stream' in plain, false);
});

test('think: levels map to budgets, max_tokens grows by the budget, temperature and top_k are dropped', () => {
  assert.equal(thinkingBudget(undefined), undefined);
  assert.equal(thinkingBudget(false), undefined);
  assert.equal(thinkingBudget('low'), 1024);
  assert.equal(thinkingBudget(true), 4096);
  assert.equal(thinkingBudget('medium'), 4096);
  assert.equal(thinkingBudget('high'), 16384);
  const body = buildRequestBody(
    { messages: [{ role: 'user', content: 'x' }], think: 'high', options: { temperature: 0.5, top_k: 5, top_p: 0.95 } },
    { model: 'm', maxTokens: 4096 },
    false,
  );
  assert.deepEqual(body.thinking, { type: 'enabled', budget_tokens: 16384 });
  assert.equal(body.max_tokens, 4096 + 16384);
  assert.equal('temperature' in body, false);
  assert.equal('top_k' in body, false);
  assert.equal(body.top_p, 0.95);
});

test('format is unsupported (the API has no JSON mode)', () => {
  assert.throws(
    () => buildRequestBody({ messages: [{ role: 'user', content: 'x' }], format: 'json' }, { model: 'm', maxTokens: 10 }, false),
    (e) => isProviderError(e, 'unsupported'),
  );
});

test('stop reasons map to done reasons', () => {
  assert.equal(toDoneReason('end_turn'), 'stop');
  assert.equal(toDoneReason('stop_sequence'), 'stop');
  assert.equal(toDoneReason('max_tokens'), 'length');
  assert.equal(toDoneReason('tool_use'), 'tool_calls');
  assert.equal(toDoneReason('refusal'), 'refusal');
  assert.equal(toDoneReason(null), undefined);
});

test('toModelInfo: remote, with limits and prices only where known', () => {
  const sonnet = toModelInfo({ id: 'claude-sonnet-4-5-20250929', display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' });
  assert.equal(sonnet.id, 'anthropic/claude-sonnet-4-5-20250929');
  assert.equal(sonnet.local, false);
  assert.equal(sonnet.contextWindow, 200_000);
  assert.equal(sonnet.maxOutput, 64_000);
  assert.deepEqual(sonnet.pricing, { inputPerMillion: 3, outputPerMillion: 15 });
  assert.equal(sonnet.capabilities.thinking, true);
  assert.equal(sonnet.capabilities.vision, true);
  assert.equal(sonnet.modifiedAt, '2025-09-29T00:00:00Z');
  assert.equal(toModelInfo({ id: 'claude-opus-4-1-20250805' }).pricing?.outputPerMillion, 75);
  assert.equal(toModelInfo({ id: 'claude-opus-4-5-20251101' }).pricing?.outputPerMillion, 25);
  assert.equal(toModelInfo({ id: 'claude-3-5-haiku-20241022' }).capabilities.thinking, false);
  const unknown = toModelInfo({ id: 'claude-future-9' });
  assert.equal(unknown.contextWindow, undefined);
  assert.equal(unknown.pricing, null);
  assert.equal(unknown.local, false);
});

// ---- the SSE reader, fed by a scripted body ---------------------------------------------

/** A response body that hands out `chunks` one per read. */
function scriptedBody(chunks: Buffer[]): ResponseBody & { cancelled: boolean; released: boolean } {
  let i = 0;
  let finished = false;
  const body = {
    cancelled: false,
    released: false,
    read(): Buffer | null | undefined {
      if (i < chunks.length) return chunks[i++] as Buffer;
      finished = true;
      return null;
    },
    wait(): Promise<Buffer | null> {
      return Promise.resolve(body.read() ?? null);
    },
    async bytes(): Promise<Buffer> {
      return Buffer.concat(chunks.slice(i));
    },
    async text(): Promise<string> {
      return (await body.bytes()).toString('utf8');
    },
    cancel(): void {
      body.cancelled = true;
      finished = true;
    },
    release(): void {
      body.released = true;
      finished = true;
    },
    get finished(): boolean {
      return finished;
    },
    async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
      for (;;) {
        const c = body.read();
        if (c === null || c === undefined) return;
        yield c;
      }
    },
  };
  return body;
}

const CTX: ErrorContext = { baseUrl: 'http://fake', method: 'POST', endpoint: '/v1/messages', model: 'm', streamed: true, secrets: [] };

async function run(chunks: Buffer[]): Promise<ChatChunk[]> {
  const body = scriptedBody(chunks);
  const res: HttpResponse = { status: 200, headers: {}, body };
  const out: ChatChunk[] = [];
  for await (const c of streamMessages(async () => res, 'm', CTX, silentLogger)) out.push(c);
  return out;
}

/** What a stream means, independent of how it was chunked. */
function summary(chunks: ChatChunk[]): unknown {
  const last = chunks.at(-1);
  return {
    text: chunks.map((c) => c.content).join(''),
    thinking: chunks.map((c) => c.thinking ?? '').join(''),
    tools: chunks.flatMap((c) => c.toolCalls ?? []),
    doneCount: chunks.filter((c) => c.done).length,
    last: { done: last?.done, doneReason: last?.doneReason, usage: last?.usage, model: last?.model },
  };
}

const RICH: Answer = {
  model: 'claude-sonnet-4-5-20250929',
  blocks: [
    { thinking: ['Let me ', 'think… 🤔'] },
    { text: ['Héllo ', 'wörld ✓ ', '😀 done'] },
    { tool: { id: 'toolu_01', name: 'get_weather', json: ['{"city": "Pa', 'ris", "unit', '": "°C", "days": [1,', '2]}'] } },
  ],
  stopReason: 'tool_use',
  inputTokens: 25,
  cacheReadTokens: 100,
  outputTokens: 61,
};

test('SSE split at every byte boundary (two pieces) gives the same chunks, also with CRLF line ends', async () => {
  const expected = {
    text: 'Héllo wörld ✓ 😀 done',
    thinking: 'Let me think… 🤔',
    tools: [{ name: 'get_weather', arguments: { city: 'Paris', unit: '°C', days: [1, 2] }, index: 0, id: 'toolu_01' }],
    doneCount: 1,
    last: {
      done: true,
      doneReason: 'tool_calls',
      usage: { promptTokens: 125, completionTokens: 61, totalTokens: 186 },
      model: 'claude-sonnet-4-5-20250929',
    },
  };
  for (const crlf of [false, true]) {
    let text = answerEvents(RICH).join('');
    if (crlf) text = text.replace(/\n/g, '\r\n');
    const bytes = Buffer.from(text, 'utf8');
    assert.deepEqual(summary(await run([bytes])), expected);
    for (let i = 1; i < bytes.length; i++) {
      const got = summary(await run([bytes.subarray(0, i), bytes.subarray(i)]));
      assert.deepEqual(got, expected, `split at byte ${i} (crlf ${crlf})`);
    }
    // And every byte on its own.
    const single: Buffer[] = [];
    for (let i = 0; i < bytes.length; i++) single.push(bytes.subarray(i, i + 1));
    assert.deepEqual(summary(await run(single)), expected);
  }
});

test('stream: message_stop ends the stream and releases the body; a cut-off stream ends incomplete', async () => {
  const events = answerEvents({ blocks: [{ text: ['hi'] }] });
  const body = scriptedBody([Buffer.from(events.join('') + sse('ping', { type: 'ping' }))]);
  const out: ChatChunk[] = [];
  for await (const c of streamMessages(async () => ({ status: 200, headers: {}, body }), 'm', CTX, silentLogger)) out.push(c);
  assert.equal(out.at(-1)?.done, true);
  assert.equal(out.at(-1)?.doneReason, 'stop');

  const cut = await run([Buffer.from(events.slice(0, 4).join(''))]);
  assert.deepEqual(
    cut.map((c) => [c.content, c.done, c.doneReason]),
    [
      ['hi', false, undefined],
      ['', true, 'incomplete'],
    ],
  );
  assert.equal(cut.at(-1)?.usage?.promptTokens, 12);
});

test('stream: an error event mid-stream throws with the text so far; overloaded is busy and retryable', async () => {
  const events = answerEvents({ blocks: [{ text: ['partial ', 'text'] }] });
  const withError = [...events.slice(0, 5), sse('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })];
  await assert.rejects(run([Buffer.from(withError.join(''))]), (e) => {
    assert.ok(isProviderError(e, 'busy'));
    assert.equal(e.retryable, true);
    assert.equal(e.partialText, 'partial text');
    assert.match(e.message, /overloaded/i);
    return true;
  });
  const apiError = [...events.slice(0, 4), sse('error', { type: 'error', error: { type: 'api_error', message: 'Internal server error' } })];
  await assert.rejects(run([Buffer.from(apiError.join(''))]), (e) => isProviderError(e, 'server_error') && e.retryable);
});

test('stream: a tool call whose input is not JSON is a protocol error', async () => {
  const events = answerEvents({ blocks: [{ tool: { id: 't', name: 'f', json: ['{"a": ', 'oops'] } }] });
  await assert.rejects(run([Buffer.from(events.join(''))]), (e) => isProviderError(e, 'protocol') && /tool call 'f'/.test(e.message));
});

test('stream: a tool call without input fragments has empty arguments', async () => {
  const chunks = await run([Buffer.from(answerEvents({ blocks: [{ tool: { id: 't', name: 'now', json: [] } }] }).join(''))]);
  assert.deepEqual(chunks.flatMap((c) => c.toolCalls ?? []), [{ name: 'now', arguments: {}, index: 0, id: 't' }]);
});
