import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findResult, renderPrompt } from '../../../src/providers/claude-code/index.js';

test('renderPrompt: a lone user message is sent as is; system messages are merged', () => {
  assert.deepEqual(renderPrompt([{ role: 'user', content: 'hi' }]), { prompt: 'hi', system: '' });
  assert.deepEqual(
    renderPrompt([
      { role: 'system', content: 'A.' },
      { role: 'system', content: '  ' },
      { role: 'user', content: 'hi' },
      { role: 'system', content: 'B.' },
    ]),
    { prompt: 'hi', system: 'A.\n\nB.' },
  );
});

test('renderPrompt: earlier turns, tool calls and results become a tagged transcript', () => {
  const { prompt } = renderPrompt([
    { role: 'user', content: 'weather?' },
    { role: 'assistant', content: '', toolCalls: [{ name: 'weather', arguments: { city: 'Oslo' } }] },
    { role: 'tool', content: '3°C', toolName: 'weather' },
    { role: 'assistant', content: 'It is 3°C.' },
    { role: 'user', content: 'and tomorrow?' },
  ]);
  assert.equal(
    prompt,
    'The conversation so far, oldest message first:\n\n<conversation>\n' +
      '<message role="user">\nweather?\n</message>\n' +
      '<message role="assistant">\n<tool_call name="weather">{"city":"Oslo"}</tool_call>\n</message>\n' +
      '<message role="tool" tool="weather">\n3°C\n</message>\n' +
      '<message role="assistant">\nIt is 3°C.\n</message>\n' +
      '</conversation>\n\nReply to the next message from the user, which follows.\n\nand tomorrow?',
  );
  const tail = renderPrompt([
    { role: 'user', content: 'q' },
    { role: 'assistant', content: 'a' },
  ]).prompt;
  assert.ok(tail.endsWith('Continue the conversation from its last message.'));
});

test('findResult: one object, an array, or the last result line among other output', () => {
  const r = { type: 'result', subtype: 'success', result: 'x' };
  assert.deepEqual(findResult(JSON.stringify(r)), r);
  assert.deepEqual(findResult(JSON.stringify([{ type: 'system' }, r])), r);
  assert.deepEqual(findResult(`warning: something\n${JSON.stringify({ type: 'assistant' })}\n${JSON.stringify(r)}\n`), r);
  assert.equal(findResult(''), undefined);
  assert.equal(findResult('{"type":"assistant"}'), undefined);
  assert.equal(findResult('not json'), undefined);
});
