/**
 * The gateway's token budget: history fitted into the model's window, the retry after a
 * context overflow, token counts stored per message, and the calibration kept in memory.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ProviderError } from '../../src/core/errors.js';
import type { ChatRequest, ChatResponse, ContextWindow } from '../../src/core/types.js';
import { Gateway } from '../../src/gateway/gateway.js';
import type { IncomingMessage } from '../../src/gateway/gateway.js';
import { SqliteMemory } from '../../src/gateway/memory/sqlite.js';
import { FakeModelProvider, tempDir, testConfig } from './helpers.js';

type Reply = { answer: string; promptTokens?: number; completionTokens?: number; truncated?: boolean } | { overflow: true };

/** A scripted provider that knows its context window, like the Ollama provider. */
class WindowedProvider extends FakeModelProvider {
  windowAsked = 0;
  private readonly replies: Reply[];

  constructor(
    readonly window: ContextWindow | undefined,
    replies: Reply[],
  ) {
    super('ollama', [], 'gemma');
    this.replies = [...replies];
  }

  async contextWindowFor(): Promise<ContextWindow | undefined> {
    this.windowAsked++;
    return this.window;
  }

  override async chat(request: ChatRequest): Promise<ChatResponse> {
    this.requests.push(request);
    const reply = this.replies.shift();
    if (reply === undefined) throw new Error('no scripted reply left');
    if ('overflow' in reply) {
      throw new ProviderError({ provider: 'ollama', code: 'context_overflow', message: 'The prompt is longer than the context window.' });
    }
    const res: ChatResponse = {
      message: { role: 'assistant', content: reply.answer },
      model: 'gemma',
      doneReason: 'stop',
      usage: { promptTokens: reply.promptTokens ?? 50, completionTokens: reply.completionTokens ?? 5 },
      timings: {},
      processingTimeMs: 1,
    };
    if (reply.truncated === true) res.truncated = true;
    return res;
  }
}

const WINDOW: ContextWindow = { tokens: 1000, limit: 1000, source: 'loaded' };

function msg(text: string): IncomingMessage {
  return { channel: 'cli', conversationId: 'long', sender: 'alice', text };
}

function setup(provider: WindowedProvider, opts: { dbPath?: string; answerReserve?: number; maxContextMessages?: number } = {}) {
  const config = testConfig({ systemPrompt: 'Be brief.', maxContextMessages: opts.maxContextMessages ?? 100 });
  if (opts.answerReserve !== undefined) config.memory.answerReserve = opts.answerReserve;
  const memory = SqliteMemory.open(opts.dbPath ?? ':memory:');
  return { memory, gateway: new Gateway({ config, memory, providers: { ollama: provider } }) };
}

/** Stores `turns` exchanges of about 100 estimated tokens per message. */
function remember(memory: SqliteMemory, turns: number): void {
  for (let i = 0; i < turns; i++) {
    memory.saveExchange({
      conversationId: 'long',
      channel: 'cli',
      sender: 'alice',
      user: { role: 'user', content: `question ${i} ${'q'.repeat(300)}` },
      assistant: { role: 'assistant', content: `answer ${i} ${'a'.repeat(300)}` },
      metadata: { providerUsed: 'ollama', model: 'gemma', processingTimeMs: 1 },
    });
  }
}

describe('Gateway token budget', () => {
  it('leaves out the oldest turns to fit the window minus the answer reserve, and says how many', async () => {
    const provider = new WindowedProvider(WINDOW, [{ answer: 'ok', promptTokens: 600 }]);
    const { gateway, memory } = setup(provider, { answerReserve: 300 });
    remember(memory, 10);
    const answer = await gateway.handle(msg('What was the first question?'));
    const sent = provider.requests[0]!.messages;
    assert.equal(sent[0]?.role, 'system');
    assert.equal(sent.at(-1)?.content, 'What was the first question?');
    const leftOut = answer.metadata.messagesLeftOut!;
    assert.ok(leftOut > 0 && leftOut % 2 === 0, `whole turns left out (${leftOut})`);
    assert.equal(sent.length, 1 + 20 - leftOut + 1);
    assert.ok(sent[1]?.content.startsWith(`question ${leftOut / 2} `), 'the oldest turns went first');
    assert.equal(answer.metadata.contextWindow, 1000);
    assert.ok(answer.metadata.estimatedPromptTokens! <= 700, 'within 1000 - 300');
    assert.equal(provider.requests[0]!.promptTokens, answer.metadata.estimatedPromptTokens, 'the provider is told the count');
    assert.equal(answer.metadata.promptTokens, 600);
    await gateway.close();
  });

  it('sends the whole history, and says none was left out, when it fits', async () => {
    const provider = new WindowedProvider({ tokens: 32_768, limit: 32_768, source: 'loaded' }, [{ answer: 'ok' }]);
    const { gateway, memory } = setup(provider);
    remember(memory, 3);
    const answer = await gateway.handle(msg('hi'));
    assert.equal(provider.requests[0]!.messages.length, 1 + 6 + 1);
    assert.equal(answer.metadata.messagesLeftOut, 0);
    await gateway.close();
  });

  it('applies no token budget for a provider that does not know its window', async () => {
    const provider = new WindowedProvider(undefined, [{ answer: 'ok' }]);
    const { gateway, memory } = setup(provider);
    remember(memory, 30);
    const answer = await gateway.handle(msg('hi'));
    assert.equal(provider.requests[0]!.messages.length, 1 + 60 + 1);
    assert.equal(answer.metadata.messagesLeftOut, undefined);
    assert.equal(provider.requests[0]!.promptTokens, undefined);
    await gateway.close();
  });

  it('after a context_overflow trims harder and retries once', async () => {
    const provider = new WindowedProvider(WINDOW, [{ overflow: true }, { answer: 'fits now' }]);
    const { gateway, memory } = setup(provider, { answerReserve: 200 });
    remember(memory, 10);
    const answer = await gateway.handle(msg('next'));
    assert.equal(answer.text, 'fits now');
    assert.equal(provider.requests.length, 2);
    const [first, second] = provider.requests.map((r) => r.messages.length);
    assert.ok(second! < first!, `${second} < ${first}`);
    assert.equal(answer.metadata.messagesLeftOut, 20 - (second! - 2), 'counts what both fits left out');
    assert.equal(memory.listAudit({ conversationId: 'long' }).map((r) => r.outcome).join(','), 'ok');
    await gateway.close();
  });

  it('gives up after the second overflow, and at once when there is no history to leave out', async () => {
    const twice = new WindowedProvider(WINDOW, [{ overflow: true }, { overflow: true }]);
    const a = setup(twice);
    remember(a.memory, 10);
    await assert.rejects(a.gateway.handle(msg('next')), (e: unknown) => e instanceof ProviderError && e.code === 'context_overflow');
    assert.equal(twice.requests.length, 2);
    await a.gateway.close();

    const bare = new WindowedProvider(WINDOW, [{ overflow: true }]);
    const b = setup(bare);
    await assert.rejects(b.gateway.handle(msg('x'.repeat(10_000))), (e: unknown) => e instanceof ProviderError && e.code === 'context_overflow');
    assert.equal(bare.requests.length, 1, 'nothing to leave out: no retry');
    assert.equal(b.memory.listAudit({ conversationId: 'long' })[0]?.outcome, 'context_overflow');
    await b.gateway.close();
  });

  it('stores the server counts: the answer\'s eval count, and the user message as the difference of two prompts', async () => {
    const provider = new WindowedProvider({ tokens: 32_768, limit: 32_768, source: 'loaded' }, [
      { answer: 'first answer', promptTokens: 40, completionTokens: 12 },
      { answer: 'second answer', promptTokens: 71, completionTokens: 9 },
    ]);
    const { gateway, memory } = setup(provider);
    await gateway.handle(msg('first question'));
    await gateway.handle(msg('second question'));
    const stored = memory.messages('long').map((m) => [m.content, m.tokens]);
    assert.equal((stored[0]?.[1] as { source: string }).source, 'estimate', 'the first user message has no earlier prompt to subtract');
    assert.deepEqual(stored[1], ['first answer', { tokens: 12, source: 'server' }]);
    assert.deepEqual(stored[2], ['second question', { tokens: 71 - 40 - 12, source: 'server' }]);
    assert.deepEqual(stored[3], ['second answer', { tokens: 9, source: 'server' }]);
    await gateway.close();
  });

  it('calibrates the estimate from the server counts and keeps it for the next process', async () => {
    const dir = tempDir('omega-calibration-');
    const dbPath = join(dir.path, 'memory.db');
    // 1000 characters counted as 250 tokens (plus template): 4 characters per token.
    const text = 'w'.repeat(1000 - 'Be brief.'.length);
    const provider = new WindowedProvider({ tokens: 32_768, limit: 32_768, source: 'loaded' }, [{ answer: 'ok', promptTokens: 250 + 4 + 2 * 4 }]);
    const first = setup(provider, { dbPath });
    await first.gateway.handle(msg(text));
    await first.gateway.close();

    const again = new WindowedProvider({ tokens: 32_768, limit: 32_768, source: 'loaded' }, [{ answer: 'ok' }]);
    const second = setup(again, { dbPath });
    assert.deepEqual(second.memory.calibrations(), [['ollama/gemma', { chars: 1000, tokens: 250, samples: 1 }]]);
    await second.gateway.handle({ ...msg(text), conversationId: 'other' });
    // Each message rounds up on its own: 9 characters of system prompt are 3 tokens at 4 per token.
    const expected = 4 + (Math.ceil(9 / 4) + 4) + (Math.ceil(text.length / 4) + 4);
    assert.equal(again.requests[0]!.promptTokens, expected, 'the new process estimates with the saved ratio');
    await second.gateway.close();
  });

  it('marks a silently truncated answer and learns nothing from its count', async () => {
    const provider = new WindowedProvider(WINDOW, [{ answer: 'partial view', promptTokens: 1000, truncated: true }]);
    const { gateway, memory } = setup(provider);
    const answer = await gateway.handle(msg('y'.repeat(2000)));
    assert.equal(answer.metadata.truncated, true);
    assert.deepEqual(memory.calibrations(), []);
    assert.equal(memory.messages('long')[1]?.metadata?.truncated, true);
    await gateway.close();
  });

  it('reproduces the worked example of docs/gateway.md', async () => {
    const provider = new WindowedProvider({ tokens: 4096, limit: 4096, trained: 32_768, source: 'server-default' }, [{ answer: 'ok' }]);
    const config = testConfig({ systemPrompt: 's'.repeat(128), maxContextMessages: 50 });
    const memory = SqliteMemory.open(':memory:');
    const gateway = new Gateway({ config, memory, providers: { ollama: provider } });
    for (let i = 0; i < 6; i++) {
      memory.saveExchange({
        conversationId: 'long',
        channel: 'cli',
        sender: 'alice',
        user: { role: 'user', content: `q${i}` },
        assistant: { role: 'assistant', content: `a${i}` },
        metadata: { providerUsed: 'ollama', model: 'gemma', processingTimeMs: 1 },
        userTokens: { tokens: 404, source: 'server' },
        assistantTokens: { tokens: 404, source: 'server' },
      });
    }
    // 128 characters of system prompt: 40 + 4 tokens; 480 of message: 150 + 4.
    const answer = await gateway.handle(msg('m'.repeat(480)));
    assert.equal(answer.metadata.messagesLeftOut, 6);
    assert.equal(answer.metadata.contextWindow, 4096);
    assert.equal(answer.metadata.estimatedPromptTokens, 2626);
    assert.equal(provider.requests[0]!.messages.length, 8);
    assert.equal(provider.requests[0]!.messages[1]?.content, 'q3');
    await gateway.close();
  });
});
