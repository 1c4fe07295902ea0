import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ToolCallAssembler,
  applyOptions,
  imageUrl,
  responseFormat,
  toUsage,
  toWireMessages,
} from '../../../src/providers/openai/index.js';
import type { ApiErrorContext } from '../../../src/providers/openai/index.js';
import { ProviderError } from '../../../src/core/errors.js';

const CTX: ApiErrorContext = {
  provider: 'openai',
  label: 'OpenAI',
  baseUrl: 'http://127.0.0.1:1/v1',
  keyEnv: 'OPENAI_API_KEY',
  configSection: 'provider.openai',
  method: 'POST',
  endpoint: '/chat/completions',
  secrets: [],
};

test('imageUrl: media type sniffed from base64, data and http URLs kept', () => {
  assert.equal(imageUrl('iVBORw0KGgoAAA'), 'data:image/png;base64,iVBORw0KGgoAAA');
  assert.equal(imageUrl('/9j/4AAQSk'), 'data:image/jpeg;base64,/9j/4AAQSk');
  assert.equal(imageUrl('R0lGODlh'), 'data:image/gif;base64,R0lGODlh');
  assert.equal(imageUrl('UklGRiQA'), 'data:image/webp;base64,UklGRiQA');
  assert.equal(imageUrl('data:image/webp;base64,AAAA'), 'data:image/webp;base64,AAAA');
  assert.equal(imageUrl('https://example.org/cat.png'), 'https://example.org/cat.png');
  assert.equal(imageUrl('iVBOR\nw0KGgo'), 'data:image/png;base64,iVBORw0KGgo');
});

test('toWireMessages: tool results without ids pair with the oldest open call of the same name', () => {
  const wire = toWireMessages([
    {
      role: 'assistant',
      content: 'calling',
      toolCalls: [
        { name: 'a', arguments: { n: 1 } },
        { name: 'b', arguments: {} },
        { name: 'a', arguments: { n: 2 } },
      ],
    },
    { role: 'tool', content: 'b-result', toolName: 'b' },
    { role: 'tool', content: 'a1', toolName: 'a' },
    { role: 'tool', content: 'a2', toolName: 'a' },
  ]);
  assert.equal(wire[0]?.content, 'calling', 'text next to tool calls is kept');
  assert.deepEqual(
    wire.slice(1).map((m) => [m.tool_call_id, m.content]),
    [
      ['call_0_1', 'b-result'],
      ['call_0_0', 'a1'],
      ['call_0_2', 'a2'],
    ],
  );
});

test('responseFormat: a schema without a usable title is named "response"', () => {
  assert.deepEqual(responseFormat({ type: 'object' }), { type: 'json_schema', json_schema: { name: 'response', schema: { type: 'object' } } });
});

test('applyOptions: num_predict <= 0 leaves the default; dropped keys are reported', () => {
  const body: Record<string, unknown> = {};
  const dropped = applyOptions(body, { num_predict: -1, top_k: 5, num_gpu: 1, logit_bias: { 1: 2 } }, 64, { maxTokensField: 'max_tokens' });
  assert.deepEqual(body, { logit_bias: { 1: 2 }, max_tokens: 64 });
  assert.deepEqual(dropped.sort(), ['num_gpu', 'top_k']);
});

test('toUsage: total computed when the server omits it; nothing for a missing usage', () => {
  assert.deepEqual(toUsage({ prompt_tokens: 3, completion_tokens: 4 }), { promptTokens: 3, completionTokens: 4, totalTokens: 7 });
  assert.deepEqual(toUsage(null), {});
});

test('ToolCallAssembler: a name repeated in every fragment is not doubled; empty arguments are {}', () => {
  const a = new ToolCallAssembler();
  a.add([{ index: 0, id: 'c', function: { name: 'f', arguments: '{"x"' } }]);
  a.add([{ index: 0, function: { name: 'f', arguments: ':1}' } }]);
  a.add([{ index: 1, id: 'd', function: { name: 'g' } }]);
  assert.deepEqual(a.finish(CTX, false), [
    { id: 'c', index: 0, name: 'f', arguments: { x: 1 } },
    { id: 'd', index: 1, name: 'g', arguments: {} },
  ]);
  const bad = new ToolCallAssembler();
  bad.add([{ index: 0, id: 'e', function: { name: 'h', arguments: 'nope' } }]);
  assert.throws(() => bad.finish(CTX, false, 'so far'), (e: unknown) => e instanceof ProviderError && e.code === 'protocol' && e.partialText === 'so far');
});
