/**
 * Omega's Ollama provider against a real `ollama serve` (each version the runner tests) running the tiny generated
 * model. Run by `npm test` with a shared server, or alone (it then starts its own):
 *   node --import tsx --test test/integration/ollama.test.ts
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OllamaProvider, notInstalledMessage } from '../../src/providers/ollama/index.js';
import { isProviderError } from '../../src/core/errors.js';
import type { ProviderError } from '../../src/core/errors.js';
import type { ChatChunk, ChatRequest, ToolDefinition } from '../../src/core/types.js';
import { compareVersions } from '../../scripts/get-ollama.js';
import { SHARED_VERSION_ENV, freePort, ollamaSkipReason, startOllama, useOllama } from '../support/ollama-harness.js';

/**
 * Every test: a generous limit (a cold model load on a loaded 2-core CI box can take many
 * seconds), and skipped, visibly and counted in node's summary, under OMEGA_SKIP_OLLAMA=1.
 */
const SKIP = ollamaSkipReason();
const SLOW = { timeout: 180_000, skip: SKIP };
/** Tokens per answer: enough to see text, few enough for a 2-core machine. */
const N = 8;
const MISSING = 'omega-no-such-model';

const WEATHER_TOOL: ToolDefinition = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', required: ['city'], properties: { city: { type: 'string', description: 'City name' } } },
  },
};

/** Collects a stream, checking the chunk protocol on the way. */
async function collect(stream: AsyncIterable<ChatChunk>): Promise<{ text: string; chunks: ChatChunk[]; last: ChatChunk }> {
  const chunks: ChatChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  const last = chunks.at(-1);
  assert.ok(last, 'the stream yielded nothing');
  assert.equal(last.done, true, 'the last chunk must be done');
  assert.equal(chunks.filter((c) => c.done).length, 1, 'exactly one done chunk');
  return { text: chunks.map((c) => c.content).join(''), chunks, last };
}

/** Asserts that `promise` rejects with a ProviderError of `code`, and returns it. */
async function rejectsWith(promise: Promise<unknown>, code: ProviderError['code']): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isProviderError(error), `expected a ProviderError, got ${String(error)}`);
    assert.equal(error.code, code, `expected code ${code}, got ${error.code}: ${error.message}`);
    return error;
  }
  assert.fail(`expected a ProviderError with code ${code}, but the call succeeded`);
}

/** Polls `ps()` until no model is loaded (unloading finishes just after the response). */
async function waitUntilNothingLoaded(provider: OllamaProvider, ms = 20_000): Promise<string[]> {
  const deadline = Date.now() + ms;
  let names: string[];
  do {
    names = (await provider.ps()).map((m) => m.name);
    if (names.length === 0) return names;
    await new Promise((r) => setTimeout(r, 100));
  } while (Date.now() < deadline);
  return names;
}

describe('Ollama provider against a real ollama serve', () => {
  const ollama = useOllama();
  let provider: OllamaProvider;
  const user = (content: string): ChatRequest => ({ messages: [{ role: 'user', content }] });

  before(() => {
    if (SKIP) return;
    provider = new OllamaProvider({ baseUrl: ollama.url, model: ollama.models.plain, options: { num_predict: N } });
  });
  after(async () => {
    await provider?.close();
  });

  test('version() is the server version, at least 0.9', SLOW, async () => {
    const version = await provider.version();
    const raw = (await (await fetch(`${ollama.url}/api/version`)).json()) as { version: string };
    assert.equal(version, raw.version);
    assert.ok(compareVersions(version, '0.9.0') >= 0, version);
    // The runner tests several versions; each run must really be talking to the one it names.
    const expected = process.env[SHARED_VERSION_ENV];
    if (expected) assert.equal(version, expected);
    assert.equal(ollama.version, version);
  });

  test('isAvailable() is true while the server runs', SLOW, async () => {
    assert.equal(await provider.isAvailable(), true);
  });

  test('listModels() lists both tiny models as local llama models with a 2048-token context', SLOW, async () => {
    const models = await provider.listModels();
    const plain = models.find((m) => m.name === `${ollama.models.plain}:latest`);
    const tools = models.find((m) => m.name === `${ollama.models.tools}:latest`);
    assert.ok(plain && tools, `both models listed: ${models.map((m) => m.name).join(', ')}`);
    for (const m of [plain, tools]) {
      assert.equal(m.id, `ollama/${m.name}`);
      assert.equal(m.provider, 'ollama');
      assert.equal(m.local, true);
      assert.equal(m.pricing, null);
      assert.equal(m.contextWindow, 2048);
      assert.equal(m.family, 'llama');
      assert.equal(m.quantization, 'F16');
      assert.ok((m.sizeBytes ?? 0) > 200_000, `size ${m.sizeBytes}`);
      assert.match(m.digest ?? '', /^[0-9a-f]{64}$/);
    }
    assert.deepEqual(plain.capabilities, { chat: true, vision: false, tools: false, embeddings: false, streaming: true, thinking: false });
    assert.deepEqual(tools.capabilities, { chat: true, vision: false, tools: true, embeddings: false, streaming: true, thinking: false });
  });

  test('show() reads capabilities, context window and GGUF metadata', SLOW, async () => {
    const plain = await provider.show(ollama.models.plain);
    assert.deepEqual(plain.capabilities, ['completion']);
    assert.equal(plain.contextWindow, 2048);
    assert.equal(plain.modelInfo['llama.embedding_length'], 64);
    assert.equal(plain.modelInfo['llama.block_count'], 2);
    assert.match(plain.parameters ?? '', /num_thread\s+1/);
    const tools = await provider.show(ollama.models.tools);
    assert.deepEqual([...tools.capabilities].sort(), ['completion', 'tools']);
    assert.match(tools.template ?? '', /\.Tools/);
    await rejectsWith(provider.show(MISSING), 'model_not_found');
  });

  test('complete() answers a context with text, token counts and metadata', SLOW, async () => {
    const context = {
      systemPrompt: 'You are a tiny test model.',
      history: [
        { role: 'user' as const, content: 'hello' },
        { role: 'assistant' as const, content: 'hello world' },
      ],
      currentMessage: 'tell me about omega',
    };
    const out = await provider.complete(context);
    assert.ok(out.text.length > 0, 'non-empty text');
    assert.equal(out.metadata.providerUsed, 'ollama');
    assert.equal(out.metadata.model, ollama.models.plain);
    assert.equal(out.metadata.completionTokens, N);
    assert.equal(out.metadata.doneReason, 'length');
    const prompt = out.metadata.promptTokens ?? 0;
    assert.equal(out.metadata.tokensUsed, prompt + N);
    assert.ok(out.metadata.processingTimeMs > 0);
    // The system prompt and history reach the model: without them the prompt is shorter.
    const bare = await provider.complete({ systemPrompt: '', history: [], currentMessage: context.currentMessage });
    assert.ok((bare.metadata.promptTokens ?? 0) > 0);
    assert.ok(prompt > (bare.metadata.promptTokens ?? 0), `${prompt} > ${bare.metadata.promptTokens}`);
    // Context.model overrides the configured model.
    const other = await provider.complete({ ...context, model: ollama.models.tools });
    assert.equal(other.metadata.model, ollama.models.tools);
  });

  test('chat() stops at num_predict with doneReason "length" and reports usage and timings', SLOW, async () => {
    const res = await provider.chat({ ...user('hello'), options: { num_predict: 5 } });
    assert.equal(res.message.role, 'assistant');
    assert.ok(res.message.content.length > 0);
    assert.equal(res.doneReason, 'length');
    assert.equal(res.usage.completionTokens, 5);
    assert.ok((res.usage.promptTokens ?? 0) > 0);
    assert.equal(res.usage.totalTokens, (res.usage.promptTokens ?? 0) + 5);
    assert.ok((res.timings.totalMs ?? 0) > 0);
    assert.ok(res.processingTimeMs > 0);
    assert.equal(res.model, ollama.models.plain);
  });

  test('chatStream() yields text deltas and one final chunk with usage', SLOW, async () => {
    const { chunks, last, text } = await collect(provider.chatStream({ ...user('the local model'), options: { num_predict: 12 } }));
    assert.ok(chunks.length >= 2, `${chunks.length} chunks`);
    assert.ok(chunks.slice(0, -1).every((c) => !c.done && c.usage === undefined));
    assert.ok(chunks.filter((c) => c.content !== '').length > 1, 'several non-empty deltas');
    assert.ok(text.length > 0);
    assert.equal(last.doneReason, 'length');
    assert.equal(last.usage?.completionTokens, 12);
    assert.ok((last.timings?.evalMs ?? -1) >= 0);
    assert.equal(last.model, ollama.models.plain);
  });

  test('with a fixed seed and temperature 0, streamed deltas concatenate to the non-streamed text', SLOW, async () => {
    const request: ChatRequest = { ...user('hello omega'), options: { seed: 42, temperature: 0, num_predict: 16 } };
    const streamed = (await collect(provider.chatStream(request))).text;
    // Ollama's own non-streamed answer, fetched without Omega.
    const raw = (await (
      await fetch(`${ollama.url}/api/chat`, {
        method: 'POST',
        body: JSON.stringify({ model: ollama.models.plain, messages: request.messages, stream: false, options: request.options }),
      })
    ).json()) as { message: { content: string }; done_reason: string };
    const viaChat = (await provider.chat(request)).message.content;
    assert.ok(streamed.length > 0);
    assert.equal(streamed, raw.message.content);
    assert.equal(viaChat, raw.message.content);
    assert.equal(raw.done_reason, 'length');
  });

  test('a model that is not installed is model_not_found with the pull hint', SLOW, async () => {
    const expected = notInstalledMessage(MISSING);
    assert.equal(expected, `Model '${MISSING}' not installed. Run \`ollama pull ${MISSING}\`.`);
    const viaChat = await rejectsWith(provider.chat({ ...user('hi'), model: MISSING }), 'model_not_found');
    assert.equal(viaChat.message, expected);
    assert.equal(viaChat.status, 404);
    assert.equal(viaChat.retryable, false);
    assert.match(viaChat.providerMessage ?? '', /not found/);
    const viaStream = await rejectsWith(collect(provider.chatStream({ ...user('hi'), model: MISSING })), 'model_not_found');
    assert.equal(viaStream.message, expected);
    const viaComplete = await rejectsWith(provider.complete({ systemPrompt: '', history: [], currentMessage: 'hi', model: MISSING }), 'model_not_found');
    assert.equal(viaComplete.message, expected);
  });

  test('tools are rejected as unsupported by the plain model', SLOW, async () => {
    // Checked against /api/show before sending (issue 13), so the server is never asked.
    const err = await rejectsWith(provider.chat({ ...user('weather in Paris?'), tools: [WEATHER_TOOL] }), 'unsupported');
    assert.equal(err.status, undefined);
    assert.match(err.message, /does not support tools \(its capabilities: completion\)/);
    assert.match(err.message, new RegExp(ollama.models.plain));
    // Ollama's own refusal, for the record: a 400 naming the capability.
    const raw = await fetch(`${ollama.url}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({ model: ollama.models.plain, messages: [{ role: 'user', content: 'hi' }], tools: [WEATHER_TOOL] }),
    });
    assert.equal(raw.status, 400);
    assert.match(((await raw.json()) as { error: string }).error, /does not support tools/);
    await rejectsWith(collect(provider.chatStream({ ...user('weather?'), tools: [WEATHER_TOOL] })), 'unsupported');
  });

  test('tools are accepted by the model whose template uses .Tools', SLOW, async () => {
    const request: ChatRequest = { ...user('weather in Paris?'), model: ollama.models.tools, tools: [WEATHER_TOOL] };
    const res = await provider.chat(request);
    assert.equal(res.model, ollama.models.tools);
    assert.equal(res.doneReason, 'length');
    assert.equal(res.usage.completionTokens, N);
    // A random-weight model does not produce a valid call, so any output is text.
    const { last } = await collect(provider.chatStream(request));
    assert.equal(last.doneReason, 'length');
  });

  test('an already-aborted signal fails with "aborted" at once', SLOW, async () => {
    const signal = AbortSignal.abort();
    await rejectsWith(provider.chat(user('hi'), { signal }), 'aborted');
    let yielded = 0;
    await rejectsWith(
      (async () => {
        for await (const _ of provider.chatStream(user('hi'), { signal })) yielded++;
      })(),
      'aborted',
    );
    assert.equal(yielded, 0);
  });

  test('aborting while the model loads (before the first byte) fails with "aborted"', SLOW, async () => {
    await provider.unload(ollama.models.plain);
    assert.deepEqual(await waitUntilNothingLoaded(provider), []);
    const controller = new AbortController();
    let yielded = 0;
    const started = Date.now();
    // Loading means starting a runner process: far longer than this.
    setTimeout(() => controller.abort(), 30);
    await rejectsWith(
      (async () => {
        for await (const _ of provider.chatStream(user('hello'), { signal: controller.signal })) yielded++;
      })(),
      'aborted',
    );
    assert.equal(yielded, 0, 'no chunk may arrive before the abort');
    assert.ok(Date.now() - started < 30_000, 'the abort took effect promptly');
    // The server is fine afterwards.
    assert.ok((await provider.chat(user('hello'))).message.content.length > 0);
  });

  test('aborting mid-stream fails with "aborted" and keeps the partial text', SLOW, async () => {
    const controller = new AbortController();
    let received = '';
    const err = await rejectsWith(
      (async () => {
        for await (const chunk of provider.chatStream({ ...user('hello'), options: { num_predict: 400 } }, { signal: controller.signal })) {
          received += chunk.content;
          if (received !== '') controller.abort();
        }
      })(),
      'aborted',
    );
    assert.ok(received.length > 0);
    assert.equal(err.partialText, received);
    // Leaving the loop early (break) ends the request quietly.
    let seen = 0;
    for await (const chunk of provider.chatStream({ ...user('hello'), options: { num_predict: 400 } })) {
      if (chunk.content !== '') seen++;
      if (seen === 2) break;
    }
    assert.equal(seen, 2);
    assert.ok((await provider.chat(user('hello again'))).message.content.length > 0);
  });

  test('8 concurrent streams all complete', SLOW, async () => {
    const prompts = ['hello', 'world', 'omega', 'local', 'model', 'tiny', 'test', 'llama'];
    const results = await Promise.all(prompts.map((p) => collect(provider.chatStream(user(`${p} ${p}`)))));
    for (const { text, last } of results) {
      assert.ok(text.length > 0);
      assert.equal(last.doneReason, 'length');
      assert.equal(last.usage?.completionTokens, N);
    }
  });

  test('keepAlive: 0 unloads the model after the call; unload() does it on demand', SLOW, async () => {
    await provider.chat(user('load it'));
    const loaded = await provider.ps();
    const entry = loaded.find((m) => m.name === `${ollama.models.plain}:latest`);
    assert.ok(entry, `loaded: ${loaded.map((m) => m.name).join(', ')}`);
    assert.ok(entry.sizeBytes > 0);
    assert.ok(Date.parse(entry.expiresAt) > Date.now(), `expires ${entry.expiresAt}`);
    assert.equal(entry.family, 'llama');

    const res = await provider.chat({ ...user('and unload it'), keepAlive: 0 });
    assert.ok(res.message.content.length > 0);
    assert.deepEqual(await waitUntilNothingLoaded(provider), []);

    await provider.chat(user('load it again'));
    assert.ok((await provider.ps()).length > 0);
    await provider.unload(ollama.models.plain);
    assert.deepEqual(await waitUntilNothingLoaded(provider), []);
    await rejectsWith(provider.unload(MISSING), 'model_not_found');
  });

  test('embed() returns one L2-normalised vector per input; a missing model is model_not_found', SLOW, async () => {
    const res = await provider.embed(ollama.models.plain, ['hello world', 'tiny omega']);
    assert.equal(res.embeddings.length, 2);
    for (const v of res.embeddings) {
      assert.equal(v.length, 64, 'embedding_length of the tiny model');
      assert.ok(v.every(Number.isFinite));
      const norm = Math.hypot(...v);
      assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
    }
    assert.notDeepEqual(res.embeddings[0], res.embeddings[1]);
    assert.ok((res.promptTokens ?? 0) > 0);
    const one = await provider.embed(ollama.models.plain, 'hello world');
    assert.equal(one.embeddings.length, 1);
    const err = await rejectsWith(provider.embed(MISSING, 'x'), 'model_not_found');
    assert.equal(err.message, notInstalledMessage(MISSING));
  });

  test('pull of a model that cannot be fetched fails with a clear ProviderError', SLOW, async () => {
    // A registry on a closed loopback port: refused at once, with or without internet.
    const port = await freePort();
    const unreachable = `127.0.0.1:${port}/omega/nothing:latest`;
    const statuses: string[] = [];
    const err = await rejectsWith(
      (async () => {
        for await (const p of provider.pull(unreachable, { insecure: true })) statuses.push(p.status);
      })(),
      'unavailable',
    );
    assert.match(err.message, /could not reach the model registry/);
    assert.ok(err.message.includes(unreachable), err.message);
    assert.match(err.providerMessage ?? '', /connection refused/);
    assert.deepEqual(statuses, ['pulling manifest']);

    // The public registry: unreachable here, or a name it does not have where there is internet.
    try {
      for await (const _ of provider.pull(MISSING)) {
        // progress is irrelevant
      }
      assert.fail('pulling a model that does not exist succeeded');
    } catch (error) {
      assert.ok(isProviderError(error), String(error));
      assert.ok(['unavailable', 'model_not_found'].includes(error.code), error.code);
      assert.ok(error.message.includes(MISSING), error.message);
      assert.match(error.providerMessage ?? '', /pull model manifest/);
    }
  });
});

describe('Ollama provider when the server goes away', () => {
  test('isAvailable() is true, then false after the server stops; calls fail with "unavailable"', SLOW, async () => {
    const server = await startOllama({ createModels: false });
    const provider = new OllamaProvider({ baseUrl: server.url, model: 'omega-tiny' });
    try {
      assert.equal(await provider.isAvailable(), true);
      assert.ok((await provider.version()).length > 0);
      await server.stop();
      assert.equal(await provider.isAvailable(), false);
      const err = await rejectsWith(provider.version(), 'unavailable');
      assert.equal(err.message, `Ollama not running at ${server.url}. Start it with \`ollama serve\`.`);
      assert.equal(err.retryable, true);
    } finally {
      await provider.close();
      await server.stop();
    }
  });
});
