/**
 * `omega serve`'s Ollama-native front end in front of a real `ollama serve` (v0.9.6), driven by
 * clients nobody here wrote: the real `ollama` CLI binary (OLLAMA_HOST pointing at Omega) and
 * ollama-js. The tiny model never stops by itself, so every generation is capped by
 * `[provider.ollama] options.num_predict`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import { SqliteMemory } from '../../src/gateway/memory/sqlite.js';
import { ollamaCli, ollamaSkipReason, useOllama } from '../support/ollama-harness.js';
import { tempDir, testConfig } from '../gateway/helpers.js';
import { startServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';

const SKIP = ollamaSkipReason();
const SLOW = { timeout: 180_000, skip: SKIP };

describe('omega serve, Ollama front end, against a real ollama serve', () => {
  const ollama = useOllama();
  const dir = tempDir('omega-serve-it-');
  let omega: TestServer;
  let memory: SqliteMemory;

  before(async () => {
    if (SKIP) return;
    const config = testConfig({ ollamaUrl: ollama.url, dbPath: join(dir.path, 'memory.db') });
    config.provider.ollama.model = ollama.models.plain;
    config.provider.ollama.options = { num_predict: 8, temperature: 0, seed: 1 };
    config.provider.ollama.timeouts = { connectMs: 5000, loadMs: 120_000, idleMs: 60_000, requestMs: 0 };
    memory = SqliteMemory.open(config.memory.dbPath);
    omega = await startServer({ config, memory, server: { aliases: { 'gpt-4o-mini': `ollama/${ollama.models.plain}` } }, autoClose: false });
  });
  after(async () => {
    await omega?.close();
  });

  test('`ollama list` shows the upstream models', SLOW, async () => {
    const r = await ollamaCli(ollama.bin, omega.host, ['list']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME\s+ID\s+SIZE\s+MODIFIED/m);
    assert.match(r.stdout, new RegExp(`^${ollama.models.plain}:latest\\s+[0-9a-f]{12}\\s`, 'm'));
    assert.match(r.stdout, new RegExp(`^${ollama.models.tools}:latest`, 'm'));
  });

  test('`ollama show MODEL` prints architecture, context length and capabilities', SLOW, async () => {
    const r = await ollamaCli(ollama.bin, omega.host, ['show', ollama.models.plain]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /architecture\s+\S+/);
    assert.match(r.stdout, /context length\s+\d+/);
    assert.match(r.stdout, /Capabilities[\s\S]*completion/);
    const missing = await ollamaCli(ollama.bin, omega.host, ['show', 'not-installed-model']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /not found/);
  });

  test('`ollama run MODEL "prompt"` answers through the gateway, and the request is audited', SLOW, async () => {
    const before = memory.listAudit({ limit: 1000 }).length;
    const r = await ollamaCli(ollama.bin, omega.host, ['run', ollama.models.plain, 'Say hello.']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.trim().length > 0, 'the CLI printed an answer');
    const rows = memory.listAudit({ limit: 1000 });
    assert.ok(rows.length > before, 'an audit row was written');
    const last = rows.find((row) => row.channel === 'serve:ollama' && row.outcome === 'ok');
    assert.ok(last !== undefined);
    assert.equal(last.provider, 'ollama');
    assert.equal(last.sender, '127.0.0.1');
    assert.ok((last.completionTokens ?? 0) > 0, 'tokens are audited');
  });

  test('`ollama pull` is relayed: progress and errors as Ollama itself reports them', SLOW, async () => {
    // No registry is reachable here, so the pull fails; through Omega it must fail the same way.
    const direct = await ollamaCli(ollama.bin, ollama.host, ['pull', 'omega-missing-model-xyz']);
    const viaOmega = await ollamaCli(ollama.bin, omega.host, ['pull', 'omega-missing-model-xyz']);
    assert.notEqual(direct.code, 0);
    assert.equal(viaOmega.code, direct.code);
    const lastError = (text: string): string => text.trim().split('\n').filter((l) => l.startsWith('Error:')).at(-1) ?? '';
    assert.ok(lastError(direct.stderr) !== '', direct.stderr);
    assert.equal(lastError(viaOmega.stderr), lastError(direct.stderr));
  });

  test('`ollama ps` lists the model the run loaded', SLOW, async () => {
    const r = await ollamaCli(ollama.bin, omega.host, ['ps']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME\s+ID\s+SIZE\s+PROCESSOR/m);
    assert.match(r.stdout, new RegExp(ollama.models.plain));
  });

  test('ollama-js: list, show, chat streamed and not, generate, and an alias', SLOW, async () => {
    const client = new Ollama({ host: omega.url });
    const list = await client.list();
    assert.ok(list.models.some((m) => m.name === `${ollama.models.plain}:latest`));
    const show = await client.show({ model: ollama.models.plain });
    assert.ok(show.capabilities.includes('completion'));
    assert.equal(typeof (show.model_info as unknown as Record<string, unknown>)['general.architecture'], 'string');

    const whole = await client.chat({ model: ollama.models.plain, messages: [{ role: 'user', content: 'Hi' }], stream: false });
    assert.equal(whole.done, true);
    assert.equal(whole.model, ollama.models.plain);
    assert.ok(whole.message.content.length > 0);
    assert.ok(whole.eval_count > 0);

    let text = '';
    let last: { done: boolean; done_reason?: string; eval_count?: number } | undefined;
    for await (const part of await client.chat({ model: `ollama/${ollama.models.plain}`, messages: [{ role: 'user', content: 'Hi' }], stream: true })) {
      text += part.message.content;
      last = part;
    }
    assert.ok(text.length > 0);
    assert.equal(last?.done, true);
    assert.equal(last?.done_reason, 'length', 'num_predict capped the answer');

    const gen = await client.generate({ model: 'gpt-4o-mini', prompt: 'Hi', stream: false });
    assert.equal(gen.model, 'gpt-4o-mini', 'the model is echoed as the client sent it');
    assert.ok((gen.response ?? '').length > 0);
  });

  test('ollama-js: embed passes through to Ollama', SLOW, async () => {
    const client = new Ollama({ host: omega.url });
    const direct = await fetch(`${ollama.url}/api/embed`, { method: 'POST', body: JSON.stringify({ model: ollama.models.plain, input: ['a', 'b'] }) });
    if (direct.status === 200) {
      const res = await client.embed({ model: ollama.models.plain, input: ['a', 'b'] });
      assert.equal(res.embeddings.length, 2);
      assert.ok((res.embeddings[0]?.length ?? 0) > 0);
    } else {
      // The same refusal, in the same words, as Ollama's own.
      const expected = ((await direct.json()) as { error: string }).error;
      await assert.rejects(client.embed({ model: ollama.models.plain, input: ['a', 'b'] }), (e: Error) => e.message === expected);
    }
  });

  test('a client that hangs up mid-stream cancels the upstream, and the exchange is stored as interrupted', SLOW, async () => {
    const controller = new AbortController();
    const res = await fetch(`${omega.url}/api/chat`, {
      method: 'POST',
      headers: { 'x-omega-conversation': 'hangup' },
      body: JSON.stringify({ model: ollama.models.plain, messages: [{ role: 'user', content: 'Count.' }], options: { num_predict: 100_000 } }),
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.cancel().catch(() => {});
    // The audit row is written when the server notices the hang-up: within a moment.
    let row;
    for (let i = 0; i < 100 && row === undefined; i++) {
      row = memory.listAudit({ conversationId: 'hangup' }).at(-1);
      if (row === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(row?.outcome, 'aborted');
    const stored = memory.messages('hangup');
    assert.equal(stored.at(-1)?.role, 'assistant');
    // Ollama is free again at once: a capped request answers promptly rather than queueing behind 100,000 tokens.
    const started = performance.now();
    const after = await fetch(`${omega.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: ollama.models.plain, stream: false, messages: [{ role: 'user', content: 'Hi' }] }) });
    assert.equal(after.status, 200);
    assert.ok(performance.now() - started < 30_000);
  });

  test('memory: X-Omega-Conversation sends the stored history next time', SLOW, async () => {
    const send = (text: string) =>
      fetch(`${omega.url}/api/chat`, {
        method: 'POST',
        headers: { 'x-omega-conversation': 'conv-1' },
        body: JSON.stringify({ model: ollama.models.plain, stream: false, messages: [{ role: 'user', content: text }] }),
      });
    assert.equal((await send('My name is Ada.')).status, 200);
    assert.equal((await send('What is my name?')).status, 200);
    const stored = memory.messages('conv-1');
    assert.deepEqual(
      stored.map((m) => m.role),
      ['user', 'assistant', 'user', 'assistant'],
    );
    assert.equal(stored[0]?.content, 'My name is Ada.');
  });

  test('an unknown model is a 404 in Ollama\'s words', SLOW, async () => {
    const res = await fetch(`${omega.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'Hi' }] }) });
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: string };
    assert.match(body.error, /no-such-model/);
    assert.match(body.error, /not found/, "Ollama's own words");
  });
});
