/**
 * `omega serve`'s OpenAI and Anthropic front ends in front of a real `ollama serve` (v0.9.6),
 * driven by the official `openai` and `@anthropic-ai/sdk` packages. Every generation is capped
 * (the tiny model never stops by itself).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { SqliteMemory } from '../../src/gateway/memory/sqlite.js';
import { ollamaSkipReason, useOllama } from '../support/ollama-harness.js';
import { tempDir, testConfig } from '../gateway/helpers.js';
import { startServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';

const SKIP = ollamaSkipReason();
const SLOW = { timeout: 180_000, skip: SKIP };
const TOKEN = 'test-token-0123456789';

describe('omega serve with the official OpenAI and Anthropic SDKs, over a real ollama serve', () => {
  const ollama = useOllama();
  const dir = tempDir('omega-serve-sdk-');
  let omega: TestServer;
  let memory: SqliteMemory;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    if (SKIP) return;
    const config = testConfig({ ollamaUrl: ollama.url, dbPath: join(dir.path, 'memory.db') });
    config.provider.ollama.model = ollama.models.plain;
    config.provider.ollama.options = { temperature: 0, seed: 1 };
    config.provider.ollama.timeouts = { connectMs: 5000, loadMs: 120_000, idleMs: 60_000, requestMs: 0 };
    memory = SqliteMemory.open(config.memory.dbPath);
    // With tokens, as a server reachable by others would run: the SDKs send them as they do to the real APIs.
    omega = await startServer({ config, memory, server: { tokens: [TOKEN], tokensSource: 'env' }, autoClose: false });
    openai = new OpenAI({ baseURL: `${omega.url}/v1`, apiKey: TOKEN, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: omega.url, apiKey: TOKEN, maxRetries: 0 });
  });
  after(async () => {
    await omega?.close();
  });

  test('openai: chat completion with usage', SLOW, async () => {
    const res = await openai.chat.completions.create({ model: ollama.models.plain, max_tokens: 8, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] });
    assert.equal(res.object, 'chat.completion');
    assert.equal(res.model, ollama.models.plain);
    assert.ok((res.choices[0]?.message.content ?? '').length > 0);
    assert.equal(res.choices[0]?.finish_reason, 'length');
    assert.ok((res.usage?.completion_tokens ?? 0) > 0);
    assert.equal(res.usage?.total_tokens, (res.usage?.prompt_tokens ?? 0) + (res.usage?.completion_tokens ?? 0));
  });

  test('openai: stream with include_usage ends with a usage chunk', SLOW, async () => {
    const stream = await openai.chat.completions.create({ model: ollama.models.plain, max_tokens: 8, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(text.length > 0);
    assert.equal(finish, 'length');
    assert.ok((usage?.completion_tokens ?? 0) > 0);
  });

  test('openai: tools are accepted by a tools-capable model and a tool result goes back', SLOW, async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_time', description: 'The time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } } }];
    const res = await openai.chat.completions.create({
      model: ollama.models.tools,
      max_tokens: 8,
      tools,
      messages: [
        { role: 'user', content: 'What time is it?' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_time', arguments: '{"zone":"UTC"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '12:00' },
      ],
    });
    assert.equal(res.choices.length, 1);
    assert.ok(['length', 'stop', 'tool_calls'].includes(res.choices[0]!.finish_reason));
    // A model without the tools capability is refused by Ollama, and the SDK sees a 400.
    await assert.rejects(
      openai.chat.completions.create({ model: ollama.models.plain, max_tokens: 8, tools, messages: [{ role: 'user', content: 'Hi' }] }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && /does not support tools/.test(e.message),
    );
  });

  test('openai: models lists what is reachable; a missing token is refused', SLOW, async () => {
    const ids: string[] = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    assert.ok(ids.includes(`${ollama.models.plain}:latest`));
    const anonymous = new OpenAI({ baseURL: `${omega.url}/v1`, apiKey: 'wrong-token-value', maxRetries: 0 });
    await assert.rejects(anonymous.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError);
  });

  test('openai: embeddings (base64 by default in the SDK) match Ollama\'s own', SLOW, async () => {
    const direct = await fetch(`${ollama.url}/api/embed`, { method: 'POST', body: JSON.stringify({ model: ollama.models.plain, input: ['hello'] }) });
    if (direct.status !== 200) {
      await assert.rejects(openai.embeddings.create({ model: ollama.models.plain, input: 'hello' }), (e: unknown) => e instanceof OpenAI.APIError);
      return;
    }
    const expected = ((await direct.json()) as { embeddings: number[][] }).embeddings[0]!;
    const res = await openai.embeddings.create({ model: ollama.models.plain, input: 'hello' });
    const got = res.data[0]!.embedding;
    assert.equal(got.length, expected.length);
    got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-6));
    const floats = await openai.embeddings.create({ model: ollama.models.plain, input: ['a', 'b'], encoding_format: 'float' });
    assert.equal(floats.data.length, 2);
  });

  test('openai: aborting a stream cancels it, and the audit says aborted', SLOW, async () => {
    const controller = new AbortController();
    const stream = await openai.chat.completions.create(
      { model: ollama.models.plain, max_tokens: 100_000, stream: true, messages: [{ role: 'user', content: 'Count.' }], metadata: { omega_conversation: 'oa-abort' } },
      { signal: controller.signal },
    );
    let chunks = 0;
    // The SDK ends the iteration quietly once its signal is aborted (after what it had buffered).
    for await (const _ of stream) {
      if (++chunks === 3) controller.abort();
    }
    assert.ok(chunks >= 3);
    assert.ok(stream.controller.signal.aborted);
    let row;
    for (let i = 0; i < 100 && row === undefined; i++) {
      row = memory.listAudit({ conversationId: 'oa-abort' }).at(-1);
      if (row === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(row?.outcome, 'aborted');
    assert.equal(row?.channel, 'serve:openai');
  });

  test('anthropic: messages, with usage and stop reason', SLOW, async () => {
    const msg = await anthropic.messages.create({ model: ollama.models.plain, max_tokens: 8, system: 'Be brief.', messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.equal(msg.stop_reason, 'max_tokens');
    const block = msg.content[0];
    assert.ok(block?.type === 'text' && block.text.length > 0);
    assert.ok(msg.usage.output_tokens > 0);
  });

  test('anthropic: stream through the SDK\'s MessageStream', SLOW, async () => {
    const stream = anthropic.messages.stream({ model: ollama.models.plain, max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }] });
    let deltas = '';
    stream.on('text', (t) => (deltas += t));
    const final = await stream.finalMessage();
    const block = final.content[0];
    assert.ok(block?.type === 'text');
    assert.equal(block.text, deltas);
    assert.ok(deltas.length > 0);
    assert.equal(final.stop_reason, 'max_tokens');
  });

  test('anthropic: a tool round trip (tool_use, then tool_result) is answered', SLOW, async () => {
    const tools: Anthropic.Tool[] = [{ name: 'get_time', description: 'The time', input_schema: { type: 'object', properties: { zone: { type: 'string' } } } }];
    const msg = await anthropic.messages.create({
      model: ollama.models.tools,
      max_tokens: 8,
      tools,
      messages: [
        { role: 'user', content: 'What time is it?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_time', input: { zone: 'UTC' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '12:00' }] },
      ],
    });
    assert.equal(msg.type, 'message');
    assert.ok(msg.content.length > 0);
    const missing = anthropic.messages.create({ model: 'no-such-model', max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }] });
    await assert.rejects(missing, (e: unknown) => e instanceof Anthropic.NotFoundError);
  });
});
