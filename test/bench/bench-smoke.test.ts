/**
 * The benchmark's synthetic server and raw loop must agree on what was sent, or every
 * figure built on them is meaningless: exact chunk counts, exact text (multi-byte
 * characters cut across writes), the final chunk's metrics, and the non-streamed shape.
 */
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { rawChat, rawStream } from '../../bench/clients.js';
import { loadRun, manyStreams, singleChat, streamChat } from '../../bench/gw-client.js';
import type { GatewayTarget } from '../../bench/gw-client.js';
import { treeCpuMs, treeRss } from '../../bench/peers.js';
import { spawnBenchServer } from '../../bench/spawn.js';
import type { BenchServer } from '../../bench/spawn.js';
import { expectedText, oaiStreamBody, parseMode } from '../../bench/synthetic.js';

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

const openai = (): GatewayTarget => ({ url: `${server.url}/v1/chat/completions`, protocol: 'openai', headers: {} });
const ollama = (): GatewayTarget => ({ url: `${server.url}/api/chat`, protocol: 'ollama', headers: {} });

test('the OpenAI-compatible stream is SSE ending in [DONE], and the gateway client counts every chunk', async () => {
  const n = 3000;
  const res = await request(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: 'bench-n3', messages: [], stream: true, stream_options: { include_usage: true } }),
    dispatcher: agent,
  });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'text/event-stream');
  const raw = await res.body.text();
  assert.equal(raw, oaiStreamBody('bench-n3', 3, true));
  assert.match(raw, /"usage":\{"prompt_tokens":26,"completion_tokens":3,"total_tokens":29\}/);
  assert.ok(raw.endsWith('data: [DONE]\n\n'));
  const r = await streamChat(agent, openai(), `bench-n${n}`);
  assert.equal(r.chunks, n);
  assert.equal(r.chars, expectedText(n).length);
  assert.ok(r.firstMs > 0 && r.firstMs <= r.totalMs);
});

test('the gateway client reads both protocols, streamed and not, and a load run counts its answers', async () => {
  const n = 200;
  const want = expectedText(n).length;
  assert.equal((await streamChat(agent, ollama(), `bench-n${n}`)).chars, want);
  assert.equal((await singleChat(agent, openai(), `bench-n${n}`)).chars, want);
  assert.equal((await singleChat(agent, ollama(), `bench-n${n}`)).chars, want);
  const load = await loadRun(agent, openai(), `bench-n${n}`, { durationMs: 10_000, maxRequests: 40, concurrency: 4, wantChars: want });
  assert.deepEqual({ ok: load.ok, bad: load.bad, failed: load.failed }, { ok: 40, bad: 0, failed: 0 });
});

test('a gateway that answers with an error status fails the call with the status and body', async () => {
  const bad: GatewayTarget = { url: `${server.url}/v1/nothing-here`, protocol: 'openai', headers: {} };
  await assert.rejects(streamChat(agent, bad, 'bench-n3'), /HTTP 404 from .*: 404 page not found/);
  const stats = await server.stats();
  assert.ok(stats.notFound >= 1);
  assert.equal(stats.lastNotFound, 'POST /v1/nothing-here');
});

test('many slow streams at once all complete and are counted as open together', async () => {
  const r = await manyStreams(agent, openai(), 'slow-i20-n5', 50, 5);
  assert.equal(r.complete, 50);
  assert.equal(r.failed, 0);
  assert.ok(r.peakOpen > 1 && r.peakOpen <= 50, `peakOpen ${r.peakOpen}`);
});

test('gateway RSS and CPU are read from /proc for a process and its children, and are NaN without it', () => {
  const rss = treeRss(process.pid);
  if (!existsSync('/proc/self/status')) {
    assert.ok(Number.isNaN(rss));
    return;
  }
  assert.ok(rss > 10 * 1024 * 1024 && rss < 4 * 1024 ** 3, `rss ${rss}`);
  assert.ok(Number.isNaN(treeRss(2 ** 22 + 1)), 'a pid that does not exist has no RSS');
  const c0 = treeCpuMs(process.pid);
  const until = Date.now() + 60;
  while (Date.now() < until) Math.sqrt(Math.random());
  assert.ok(treeCpuMs(process.pid) > c0);
});
