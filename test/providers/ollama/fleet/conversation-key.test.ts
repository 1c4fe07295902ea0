/**
 * The sticky key derived from a conversation's opening, for clients that resend the whole
 * conversation each turn without naming it: stable across turns, distinct across openings and
 * models, cheap on huge messages, and unbroken by images, tool calls or odd shapes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { conversationKey } from '../../../../src/providers/ollama/fleet/index.js';

const system = { role: 'system', content: 'You are terse.' };
const first = { role: 'user', content: 'What is a KV cache?' };

test('every turn of one conversation gives the same key; another opening, system prompt or model another', () => {
  const turn1 = conversationKey('llama3', [system, first]);
  assert.match(String(turn1), /^auto:[0-9a-f]{16}$/);
  const turn2 = conversationKey('llama3', [system, first, { role: 'assistant', content: 'Attention state.' }, { role: 'user', content: 'Why keep it?' }]);
  const turn3 = conversationKey('llama3:latest', [
    system,
    first,
    { role: 'assistant', content: 'Attention state.' },
    { role: 'user', content: 'Why keep it?' },
    { role: 'assistant', content: 'Speed.' },
    { role: 'user', content: 'Thanks.' },
  ]);
  assert.equal(turn2, turn1);
  assert.equal(turn3, turn1, 'llama3 and llama3:latest are one model');
  assert.notEqual(conversationKey('llama3', [system, { role: 'user', content: 'What is a KV cache!' }]), turn1);
  assert.notEqual(conversationKey('llama3', [{ role: 'system', content: 'You are verbose.' }, first]), turn1);
  assert.notEqual(conversationKey('llama3', [first]), turn1, 'the system prompt is part of the opening');
  assert.notEqual(conversationKey('qwen3', [system, first]), turn1);
  // Where one message ends and the next starts matters.
  assert.notEqual(conversationKey('m', [{ role: 'system', content: 'ab' }, { role: 'user', content: 'c' }]), conversationKey('m', [{ role: 'system', content: 'a' }, { role: 'user', content: 'bc' }]));
});

test('nothing to key on gives undefined', () => {
  assert.equal(conversationKey('m', []), undefined);
  assert.equal(conversationKey('m', [system]), undefined);
  assert.equal(conversationKey('m', [{ role: 'assistant', content: 'hi' }]), undefined);
  assert.equal(conversationKey('m', undefined), undefined);
  assert.equal(conversationKey('m', 'hello'), undefined);
  assert.equal(conversationKey('m', [null, 3, 'x']), undefined);
});

test('huge messages: bounded work, yet openings that differ only past the hashed prefix or in length still differ', (t) => {
  // Count what reaches the hash and which messages are read, rather than timing it.
  let hashed = 0;
  const proto = Object.getPrototypeOf(createHash('sha1')) as { update(data: string): unknown };
  const update = proto.update;
  t.mock.method(proto, 'update', function (this: unknown, data: string) {
    hashed += data.length;
    return update.call(this, data);
  });
  const big = 'x'.repeat(5_000_000);
  const k1 = conversationKey('m', [{ role: 'system', content: big }, { role: 'user', content: `${big}a` }]);
  const k2 = conversationKey('m', [{ role: 'system', content: big }, { role: 'user', content: `${big}ab` }]);
  assert.ok(k1 !== undefined && k2 !== undefined);
  assert.notEqual(k1, k2, 'the full length is part of the key');
  assert.ok(hashed > 0 && hashed < 2 * 20_000, `${hashed} characters hashed for two keys over 20 MB of messages`);
  // Thousands of system messages before the first user message are not all read.
  let read = 0;
  const many = new Proxy(
    [...Array.from({ length: 100_000 }, () => ({ role: 'system', content: 's' })), first],
    { get: (target, prop, receiver) => (typeof prop === 'string' && /^\d+$/.test(prop) && read++, Reflect.get(target, prop, receiver)) },
  );
  assert.equal(conversationKey('m', many), undefined, 'a first user message past the bound is not looked for');
  assert.ok(read <= 64, `${read} messages read`);
});

test('images, tool calls and content-part lists do not break the key', () => {
  const withImage = [{ role: 'user', content: 'What is this?', images: ['iVBORw0KGgo' + 'A'.repeat(5000)] }];
  const k = conversationKey('llava', withImage);
  assert.ok(k !== undefined);
  assert.equal(conversationKey('llava', [...withImage, { role: 'assistant', content: '', tool_calls: [{ function: { name: 'look', arguments: {} } }] }, { role: 'tool', content: '{}' }, { role: 'user', content: 'And?' }]), k);
  assert.notEqual(conversationKey('llava', [{ role: 'user', content: 'What is this?', images: ['iVBORw0KGgo' + 'A'.repeat(7000)] }]), k, 'another image');
  assert.notEqual(conversationKey('llava', [{ role: 'user', content: 'What is this?' }]), k, 'no image');
  const parts = conversationKey('m', [{ role: 'user', content: [{ type: 'text', text: 'Hi' }, { type: 'image_url', image_url: { url: 'data:' } }] }]);
  assert.equal(parts, conversationKey('m', [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }]));
  assert.notEqual(parts, conversationKey('m', [{ role: 'user', content: [{ type: 'text', text: 'Ho' }] }]));
  assert.ok(conversationKey('m', [{ role: 'user', content: { odd: true } }]) !== undefined, 'an odd content still keys on the role');
});
