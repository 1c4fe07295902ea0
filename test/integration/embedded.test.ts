/**
 * The embedded engine on a real store: the real small model (Gemma 3 270M) imported by a real
 * `ollama create` into a temp OLLAMA_MODELS (with PARAMETERs for greedy, seeded, one-thread,
 * short answers), Ollama's own answer taken, the server stopped; then a real `omega ask`
 * process answers through the `fallback = ["embedded"]` path from the same files, and the two
 * answers are compared. In-process: listing, cancellation mid-answer, a JSON-schema `format`.
 *
 * It runs once per `npm test`, in the pass of the newest Ollama (0.17 and later): the engine
 * reads the store without the server, so the server's version matters only for writing the
 * store, and one pass keeps the CPU cost down. Run alone it gets the newest Ollama itself:
 *   node --import tsx --test test/integration/embedded.test.ts
 */
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProviderError } from '../../src/core/errors.js';
import { EmbeddedProvider } from '../../src/providers/embedded/index.js';
import { compareVersions, getOllama } from '../../scripts/get-ollama.js';
import { ensureGemmaModel } from '../../scripts/get-model.js';
import { SHARED_BIN_ENV, SHARED_VERSION_ENV, realModelForTests, startOllama } from '../support/ollama-harness.js';
import type { OllamaServer } from '../support/ollama-harness.js';
import { closedPort, runCli } from '../cli/helpers.js';

/** The Ollama versions from which on this file runs (the runner's newest pass). */
const RUNS_SINCE = '0.17.0';
const MODEL = 'omega-gemma-embedded';
const PROMPT = 'The capital of France is';
/** Greedy and seeded, one thread, a short answer: the same PARAMETERs drive both engines. */
const MODELFILE_PARAMS = ['PARAMETER temperature 0', 'PARAMETER seed 42', 'PARAMETER num_predict 24', 'PARAMETER num_thread 1', 'PARAMETER num_ctx 2048'];

async function skipReason(): Promise<string | false> {
  const real = await realModelForTests();
  if (real.skip) return real.skip;
  const shared = process.env[SHARED_VERSION_ENV];
  if (shared && compareVersions(shared, RUNS_SINCE) < 0) return `runs once, in the pass of Ollama ${RUNS_SINCE} or later (this is ${shared})`;
  return false;
}

const SKIP = await skipReason();
const SLOW = { timeout: 600_000, skip: SKIP };

/** Length of the common prefix of two strings. */
function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

describe('the embedded engine over a store written by ollama create', { skip: SKIP }, () => {
  let dir: string;
  let store: string;
  let ollamaAnswer = '';
  let ollamaVersion = '';
  let provider: EmbeddedProvider;

  before(
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'omega-embedded-'));
      store = join(dir, 'models');
      const gguf = (await ensureGemmaModel({ log: () => undefined })).path;
      const bin = process.env[SHARED_BIN_ENV] || (await getOllama({ log: () => undefined })).path;
      let server: OllamaServer | undefined;
      try {
        server = await startOllama({ bin, createModels: false, env: { OLLAMA_MODELS: store } });
        ollamaVersion = ((await (await fetch(`${server.url}/api/version`)).json()) as { version: string }).version;
        writeFileSync(join(dir, 'Modelfile'), [`FROM ${gguf}`, ...MODELFILE_PARAMS, ''].join('\n'));
        const created = spawnSync(bin, ['create', MODEL, '-f', join(dir, 'Modelfile')], {
          cwd: dir,
          env: { PATH: process.env.PATH ?? '', HOME: dir, OLLAMA_HOST: server.host },
          encoding: 'utf8',
          timeout: 300_000,
        });
        assert.equal(created.status, 0, `ollama create failed: ${created.stderr}`);
        const res = await fetch(`${server.url}/api/chat`, {
          method: 'POST',
          body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: PROMPT }], stream: false, keep_alive: 0 }),
        });
        const body = (await res.json()) as { message?: { content: string }; error?: string };
        assert.equal(res.status, 200, body.error);
        ollamaAnswer = body.message?.content ?? '';
      } finally {
        // The store stays: it is ours (OLLAMA_MODELS), not the server's temp dir.
        await server?.stop();
      }
      provider = new EmbeddedProvider({ modelsDir: store, keepAliveMs: 60_000 });
    },
    { timeout: 600_000 },
  );
  after(async () => {
    await provider?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('`omega ask` answers through the fallback while Ollama is down, close to Ollama\'s own answer', SLOW, async (t: TestContext) => {
    const home = join(dir, 'home');
    const config = join(dir, 'config.toml');
    const port = await closedPort();
    writeFileSync(
      config,
      [
        '[provider]',
        'default = "ollama"',
        'fallback = ["embedded"]',
        '[provider.ollama]',
        'enabled = true',
        `base_url = "http://127.0.0.1:${port}"`,
        `model = "${MODEL}"`,
        'timeouts = { connect = 2 }',
        '[provider.embedded]',
        `models_dir = "${store}"`,
        'keep_alive = 0',
        '',
      ].join('\n'),
    );
    mkdirSync(home, { recursive: true });
    const r = await runCli(['--config', config, 'ask', '--json', PROMPT], { home, timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { text: string; metadata: { providerUsed: string; fallbackFrom?: string[]; model: string; completionTokens?: number } };
    assert.equal(out.metadata.providerUsed, 'embedded');
    assert.deepEqual(out.metadata.fallbackFrom, ['ollama']);
    assert.equal(out.metadata.model, `${MODEL}:latest`);
    assert.ok(out.text.trim() !== '', 'the embedded answer is empty');
    // The manifest's num_predict reached the engine.
    assert.ok((out.metadata.completionTokens ?? 0) <= 24, `completionTokens ${out.metadata.completionTokens}`);
    assert.match(r.stderr, /answered by the embedded engine from Ollama's model store .*because Ollama did not answer/);

    const same = commonPrefix(out.text, ollamaAnswer);
    t.diagnostic(`ollama ${ollamaVersion}: ${JSON.stringify(ollamaAnswer)}`);
    t.diagnostic(`embedded: ${JSON.stringify(out.text)}`);
    t.diagnostic(`common prefix: ${same} of ${Math.max(out.text.length, ollamaAnswer.length)} characters`);
    // Same weights, greedy: the engines agree at least on how the answer starts.
    const firstWord = (s: string): string => s.trim().split(/\s+/)[0] ?? '';
    assert.equal(firstWord(out.text), firstWord(ollamaAnswer), 'the two engines start differently');
  });

  test('listModels shows the store: local, with the trained context from the GGUF', SLOW, async () => {
    const models = await provider.listModels();
    const m = models.find((x) => x.name === `${MODEL}:latest`);
    assert.ok(m !== undefined, JSON.stringify(models.map((x) => x.name)));
    assert.equal(m.local, true);
    assert.equal(m.contextWindow, 32768);
    assert.equal(m.capabilities.chat, true);
    assert.equal(m.unsupported, undefined);
    assert.equal(await provider.isAvailable(), true);
  });

  test('cancelling stops generation at once', SLOW, async () => {
    const controller = new AbortController();
    let chunks = 0;
    let afterAbort = 0;
    let failure: unknown;
    try {
      for await (const chunk of provider.chatStream(
        { model: MODEL, messages: [{ role: 'user', content: 'Once upon a time' }], options: { num_predict: 400 } },
        { signal: controller.signal },
      )) {
        if (chunk.content === '') continue;
        if (controller.signal.aborted) afterAbort++;
        chunks++;
        if (chunks === 3) controller.abort();
      }
    } catch (error) {
      failure = error;
    }
    assert.ok(failure instanceof ProviderError, String(failure));
    assert.equal(failure.code, 'aborted');
    assert.ok((failure.partialText ?? '').length > 0);
    // At most the token already being sampled arrives after the abort.
    assert.ok(afterAbort <= 1, `${afterAbort} chunks after the abort`);
    // The model is still usable: the next call answers.
    const next = await provider.chat({ model: MODEL, messages: [{ role: 'user', content: PROMPT }], options: { num_predict: 2 } });
    assert.equal(next.usage.completionTokens, 2);
    assert.equal(next.doneReason, 'length');
  });

  test('the load and idle timeouts stop a call with the phase and the setting to raise', SLOW, async () => {
    const cold = new EmbeddedProvider({ modelsDir: store, keepAliveMs: 0, timeouts: { loadMs: 20 } });
    try {
      await assert.rejects(cold.chat({ model: MODEL, messages: [{ role: 'user', content: PROMPT }] }), (error: unknown) => {
        assert.ok(error instanceof ProviderError);
        assert.equal(error.code, 'timeout');
        assert.equal(error.phase, 'load');
        assert.deepEqual(error.setting, { option: 'timeouts.loadMs', configKey: 'provider.embedded.timeouts.load' });
        assert.match(error.message, /raise timeouts\.loadMs/);
        return true;
      });
      assert.equal(cold.loadedModel, undefined);
    } finally {
      await cold.close();
    }
    const idle = new EmbeddedProvider({ modelsDir: store, keepAliveMs: 0, timeouts: { idleMs: 1 } });
    try {
      await assert.rejects(idle.chat({ model: MODEL, messages: [{ role: 'user', content: 'Once upon a time' }], options: { num_predict: 200 } }), (error: unknown) => {
        assert.ok(error instanceof ProviderError);
        assert.equal(error.code, 'timeout');
        assert.equal(error.phase, 'idle');
        return true;
      });
    } finally {
      await idle.close();
    }
  });

  test('the model is released after keep_alive, and a warm model does not keep the process alive', SLOW, async () => {
    const short = new EmbeddedProvider({ modelsDir: store, keepAliveMs: 200 });
    try {
      await short.chat({ model: MODEL, messages: [{ role: 'user', content: PROMPT }], options: { num_predict: 1 } });
      assert.equal(short.loadedModel, `${MODEL}:latest`);
      const deadline = Date.now() + 30_000;
      while (short.loadedModel !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(short.loadedModel, undefined);
    } finally {
      await short.close();
    }
    // A child answers once with a ten-minute keep-alive and never calls close(): it must exit by itself.
    const script = `
      const { EmbeddedProvider } = await import(${JSON.stringify(new URL('../../src/providers/embedded/index.ts', import.meta.url).pathname)});
      const p = new EmbeddedProvider({ modelsDir: ${JSON.stringify(store)}, keepAliveMs: 600000 });
      const r = await p.chat({ model: ${JSON.stringify(MODEL)}, messages: [{ role: 'user', content: 'Hi' }], options: { num_predict: 1 } });
      console.log('answered', r.usage.completionTokens, p.loadedModel);`;
    // A file, not `node -e`: node-llama-cpp tests its binary in a fork that inherits execArgv, and `-e` breaks that fork.
    writeFileSync(join(dir, 'warm-child.mjs'), script);
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(dir, 'warm-child.mjs')], { encoding: 'utf8', timeout: 240_000 });
    assert.equal(child.signal, null, `the child did not exit by itself: ${child.stderr}`);
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), `answered 1 ${MODEL}:latest`);
  });

  test('close() stops the call in flight and the one waiting behind it, both as aborted', SLOW, async () => {
    const own = new EmbeddedProvider({ modelsDir: store });
    const long = { model: MODEL, messages: [{ role: 'user' as const, content: 'Once upon a time' }], options: { num_predict: 400 } };
    const stream = own.chatStream(long)[Symbol.asyncIterator]();
    const first = await stream.next();
    assert.equal(first.done, false);
    const waiting = assert.rejects(own.chat(long), (e: unknown) => e instanceof ProviderError && e.code === 'aborted' && /closed/.test(e.message));
    await own.close();
    await waiting;
    const rest = (async () => {
      for (;;) if ((await stream.next()).done) return;
    })();
    await assert.rejects(rest, (e: unknown) => e instanceof ProviderError && e.code === 'aborted' && /closed/.test(e.message));
    assert.equal(own.loadedModel, undefined);
  });

  test('a JSON-schema format is honoured', SLOW, async () => {
    const schema = {
      type: 'object',
      properties: { city: { type: 'string' }, population: { type: 'integer' } },
      required: ['city', 'population'],
    };
    const res = await provider.chat({
      model: MODEL,
      messages: [{ role: 'user', content: 'Describe Paris as JSON with its population.' }],
      format: schema,
      options: { num_predict: 60 },
    });
    const value = JSON.parse(res.message.content) as { city: unknown; population: unknown };
    assert.equal(typeof value.city, 'string');
    assert.ok(Number.isInteger(value.population), res.message.content);
    assert.ok((res.timings.tokensPerSecond ?? 0) > 0);
    assert.ok((res.usage.promptTokens ?? 0) > 0);
  });
});
