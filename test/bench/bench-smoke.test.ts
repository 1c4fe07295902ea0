/**
 * The benchmark's synthetic server and raw loop must agree on what was sent, or every
 * figure built on them is meaningless: exact chunk counts, exact text (multi-byte
 * characters cut across writes), the final chunk's metrics, and the non-streamed shape.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { rawChat, rawStream } from '../../bench/clients.js';
import { spawnBenchServer } from '../../bench/spawn.js';
import type { BenchServer } from '../../bench/spawn.js';
import { expectedText, parseMode } from '../../bench/synthetic.js';

let server: BenchServer;
const agent = new Agent();

before(async () => {
  server = await spawnBenchServer();
});

after(async () => {
  await agent.close();
  await server.close();
});

test('a fast stream delivers exactly N chunks whose text is the expected text', async () => {
  // 3000 chunks are several 32 KiB writes, so lines and multi-byte characters straddle reads.
  const n = 3000;
  const text = expectedText(n);
  assert.ok(Buffer.byteLength(text) > text.length, 'the token mix must include multi-byte characters');
  const r = await rawStream(agent, server.url, `bench-n${n}`, { keepText: true });
  assert.equal(r.chunks, n);
  assert.equal(r.text, text);
  assert.equal(r.chars, text.length);
  assert.equal(r.last?.done, true);
  assert.equal(r.last?.done_reason, 'stop');
  assert.equal(r.last?.eval_count, n);
});

test('a non-streamed chat is one object with the concatenated text', async () => {
  const n = 50;
  const res = await request(`${server.url}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({ model: `bench-n${n}`, messages: [], stream: false }),
    dispatcher: agent,
  });
  assert.equal(res.statusCode, 200);
  const obj = (await res.body.json()) as { message: { content: string }; done: boolean; eval_count: number };
  assert.equal(obj.message.content, expectedText(n));
  assert.equal(obj.done, true);
  assert.equal(obj.eval_count, n);
  assert.equal((await rawChat(agent, server.url, `bench-n${n}`)).chars, expectedText(n).length);
});

test('a slow stream sends its N chunks and ends', async () => {
  const r = await rawStream(agent, server.url, 'slow-i5-n4', { keepText: true });
  assert.equal(r.chunks, 4);
  assert.equal(r.text, expectedText(4));
  assert.equal(r.last?.done, true);
});

test('the model name selects the mode', () => {
  assert.deepEqual(parseMode('bench-n20000'), { kind: 'fast', n: 20000 });
  assert.deepEqual(parseMode('slow-i100-n50:latest'), { kind: 'slow', intervalMs: 100, n: 50 });
  assert.deepEqual(parseMode('llama3'), { kind: 'fast', n: 100 });
});
