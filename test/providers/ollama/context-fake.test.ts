/**
 * The Ollama provider's context handling against a fake server speaking 0.9.6 or 0.17.4:
 * silent truncation detected after the fact on 0.9.6, `truncate: false` and `context_overflow`
 * with numbers on 0.17.4, capability pre-checks that load nothing, `context: 'auto'`, and the
 * estimator calibrated from the server's counts.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OllamaProvider } from '../../../src/providers/ollama/index.js';
import { ProviderError } from '../../../src/core/errors.js';
import { fitMessages } from '../../../src/core/context-fit.js';
import type { ChatChunk, ChatRequest } from '../../../src/core/types.js';
import { FakeOllama, chatText } from '../../support/fake-ollama.js';
import type { RecordedRequest } from '../../support/fake-ollama.js';

let fake: FakeOllama;
before(async () => {
  fake = await FakeOllama.start();
});
after(async () => {
  await fake.close();
});

/** A server of `version` with omega-gemma installed (trained for 32768 tokens), loaded with `loaded` tokens when given. */
function serve(version: string, opts: { capabilities?: string[]; loaded?: number } = {}): void {
  fake.route('GET', '/api/version', { body: { version } });
  fake.route('GET', '/api/tags', {
    body: { models: [{ name: 'omega-gemma:latest', model: 'omega-gemma:latest', digest: 'd'.repeat(64), size: 1, details: {} }] },
  });
  fake.route('POST', '/api/show', {
    body: {
      template: '{{ .Prompt }}',
      details: { family: 'gemma3' },
      model_info: { 'general.architecture': 'gemma3', 'gemma3.context_length': 32_768 },
      capabilities: opts.capabilities ?? ['completion'],
    },
  });
  const running = opts.loaded === undefined ? [] : [{ name: 'omega-gemma:latest', model: 'omega-gemma:latest', digest: 'd'.repeat(64), context_length: opts.loaded }];
  fake.route('GET', '/api/ps', { body: { models: running } });
}

function provider(extra: ConstructorParameters<typeof OllamaProvider>[0] = {}): OllamaProvider {
  return new OllamaProvider({ baseUrl: fake.url, env: {}, model: 'omega-gemma', ...extra });
}

const long = (tokens: number): ChatRequest => ({ messages: [{ role: 'user', content: 'word '.repeat(tokens) }], promptTokens: tokens });
const chats = (): RecordedRequest[] => fake.requestsTo('/api/chat');
const body = (i = -1): Record<string, unknown> => chats().at(i)!.json as Record<string, unknown>;

async function lastChunk(stream: AsyncIterable<ChatChunk>): Promise<ChatChunk> {
  let last: ChatChunk | undefined;
  for await (const chunk of stream) last = chunk;
  return last!;
}

describe('Ollama 0.9.6: silent truncation detected after the fact', () => {
  beforeEach(() => serve('0.9.6'));

  it('sends no truncate field, and marks an answer whose prompt_eval_count is the whole window', async () => {
    fake.route('POST', '/api/chat', chatText(['Partial.'], { prompt_eval_count: 4096 }));
    const p = provider();
    const res = await p.chat(long(6600));
    assert.equal(body().truncate, undefined, '0.9.6 does not know the field');
    assert.equal(res.truncated, true);
    const chunk = await lastChunk(p.chatStream(long(6600)));
    assert.equal(chunk.truncated, true, 'streamed answers too');
    assert.equal(p.tokenEstimator.isCalibrated('omega-gemma'), false, 'a cut count teaches the estimator nothing');
    await p.close();
  });

  it('leaves an answer alone when the prompt fit', async () => {
    fake.route('POST', '/api/chat', chatText(['Whole.'], { prompt_eval_count: 3000 }));
    const p = provider();
    const res = await p.chat(long(3000));
    assert.equal(res.truncated, undefined);
    await p.close();
  });

  it('uses the num_ctx it sent as the window', async () => {
    fake.route('POST', '/api/chat', chatText(['Partial.'], { prompt_eval_count: 1024 }));
    const p = provider({ options: { num_ctx: 1024 } });
    const res = await p.chat(long(1500));
    assert.equal(res.truncated, true);
    assert.equal(res.contextLength, 1024);
    await p.close();
  });
});

describe('Ollama 0.17.4: an oversized prompt is refused, with numbers', () => {
  beforeEach(() => serve('0.17.4'));

  it('sends truncate: false unless the caller says otherwise, asking the version once', async () => {
    fake.route('POST', '/api/chat', chatText(['Hi.']));
    const versions = fake.requestsTo('/api/version').length;
    const p = provider();
    await p.chat({ messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(body().truncate, false);
    await p.chat({ messages: [{ role: 'user', content: 'hi' }], truncate: true });
    assert.equal(body().truncate, true);
    await lastChunk(p.chatStream({ messages: [{ role: 'user', content: 'hi' }] }));
    assert.equal(body().truncate, false);
    assert.equal(fake.requestsTo('/api/version').length - versions, 1);
    await p.close();
  });

  it('turns the 400 into context_overflow naming the prompt, the window and what to do', async () => {
    fake.route('POST', '/api/chat', { status: 400, body: { error: 'the input length exceeds the context length' } });
    const p = provider();
    for (const run of [() => p.chat(long(6600)), () => lastChunk(p.chatStream(long(6600)))]) {
      await assert.rejects(run(), (e: unknown) => {
        assert.ok(e instanceof ProviderError);
        assert.equal(e.code, 'context_overflow');
        assert.equal(e.retryable, false);
        assert.equal(e.status, 400);
        assert.equal(e.providerMessage, 'the input length exceeds the context length');
        assert.equal(
          e.message,
          "The prompt (about 6,600 tokens) is longer than the 4,096-token context window of 'omega-gemma'; shorten it, or raise options.num_ctx (the model was trained for 32,768), or let the provider size it with context: 'auto'.",
        );
        return true;
      });
    }
    await p.close();
  });

  it('under context: auto raises num_ctx for a long prompt, from the loaded window, and keeps it', async () => {
    serve('0.17.4', { loaded: 4096 });
    fake.route('POST', '/api/chat', chatText(['Hi.'], { prompt_eval_count: 50 }));
    const p = provider({ context: 'auto', maxContext: 16_384, options: { num_predict: 64 } });
    await p.chat({ messages: [{ role: 'user', content: 'hi' }] });
    assert.deepEqual(body().options, { num_predict: 64, num_ctx: 4096 }, 'the loaded window is kept: no reload');
    const res = await p.chat(long(6000));
    assert.equal((body().options as { num_ctx: number }).num_ctx, 8192);
    assert.equal(res.contextLength, 8192);
    await p.chat({ messages: [{ role: 'user', content: 'hi' }] });
    assert.equal((body().options as { num_ctx: number }).num_ctx, 8192, 'sticky');
    assert.deepEqual(await p.contextWindowFor('omega-gemma'), { tokens: 8192, limit: 16_384, trained: 32_768, source: 'auto', answerTokens: 64 });
    await p.close();
  });

  it('an explicit num_ctx always wins over auto', async () => {
    fake.route('POST', '/api/chat', chatText(['Hi.']));
    const p = provider({ context: 'auto' });
    await p.chat({ ...long(6000), options: { num_ctx: 2048 } });
    assert.equal((body().options as { num_ctx: number }).num_ctx, 2048);
    await p.close();
  });
});

describe('capability pre-checks', () => {
  it('refuses tools, images and think to a model without them, naming both, and loads nothing', async () => {
    serve('0.17.4', { capabilities: ['completion'] });
    fake.route('POST', '/api/chat', chatText(['should not be asked']));
    const p = provider();
    const sent = chats().length;
    const shows = fake.requestsTo('/api/show').length;
    const cases: [ChatRequest, RegExp][] = [
      [{ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f' } }] }, /does not support tools/],
      [{ messages: [{ role: 'user', content: 'x', images: ['iVBORw0KGgo='] }] }, /does not support images .*lists vision/],
      [{ messages: [{ role: 'user', content: 'x' }], think: true }, /does not support thinking \(think\)/],
    ];
    for (const [request, pattern] of cases) {
      await assert.rejects(p.chat(request), (e: unknown) => e instanceof ProviderError && e.code === 'unsupported' && pattern.test(e.message) && e.message.includes("'omega-gemma'"));
      await assert.rejects(lastChunk(p.chatStream(request)), (e: unknown) => e instanceof ProviderError && e.code === 'unsupported');
    }
    assert.equal(chats().length, sent, 'no chat request went out, so no model was loaded');
    assert.equal(fake.requestsTo('/api/show').length - shows, 1, '/api/show cached by digest');
    await p.close();
  });

  it('lets a capable model through, and says nothing when the server lists no capabilities', async () => {
    serve('0.17.4', { capabilities: ['completion', 'tools', 'vision', 'thinking'] });
    fake.route('POST', '/api/chat', chatText(['ok']));
    const p = provider();
    await p.chat({ messages: [{ role: 'user', content: 'x', images: ['iVBORw0KGgo='] }], tools: [{ type: 'function', function: { name: 'f' } }], think: true });
    await p.close();
    fake.route('POST', '/api/show', { body: { template: '{{ .Prompt }}', model_info: {} } });
    const q = provider();
    await q.chat({ messages: [{ role: 'user', content: 'x' }], think: true });
    assert.equal(body().think, true);
    await q.close();
  });
});

describe('calibration from the server counts', () => {
  it('learns characters per token from prompt_eval_count, and fits with it', async () => {
    serve('0.17.4');
    // 2000 characters counted as 500 tokens, plus 4 for the prompt and 4 for the message.
    fake.route('POST', '/api/chat', chatText(['ok'], { prompt_eval_count: 508 }));
    const p = provider();
    assert.equal(p.tokenEstimator.isCalibrated('omega-gemma'), false);
    await p.chat({ messages: [{ role: 'user', content: 'abcd'.repeat(500) }] });
    assert.equal(p.tokenEstimator.charsPerToken('omega-gemma'), 4);
    const turns = Array.from({ length: 10 }, (_, i) => ({ role: i % 2 === 0 ? ('user' as const) : ('assistant' as const), content: 'x'.repeat(400) }));
    const fit = fitMessages([...turns, { role: 'user', content: 'now?' }], { budget: 500, estimator: p.tokenEstimator, model: 'omega-gemma' });
    // Calibrated: 104 tokens per message, so four earlier messages fit in 500 with the question.
    assert.equal(fit.messages.length, 5);
    await p.close();
  });
});

describe('a server without /api/show and /api/ps', () => {
  it('is asked once for them, not on every request', async () => {
    serve('0.17.4');
    fake.route('POST', '/api/show', { status: 404, body: '404 page not found', headers: { 'content-type': 'text/plain' } });
    fake.route('GET', '/api/ps', { status: 404, body: '404 page not found', headers: { 'content-type': 'text/plain' } });
    fake.route('POST', '/api/chat', chatText(['ok']));
    const shows = fake.requestsTo('/api/show').length;
    const p = provider();
    for (let i = 0; i < 3; i++) {
      await assert.rejects(p.contextWindowFor('omega-gemma'), (e: unknown) => e instanceof ProviderError && e.code === 'protocol');
      await p.chat({ messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'f' } }] });
    }
    assert.equal(fake.requestsTo('/api/show').length - shows, 1);
    await p.close();
  });
});

