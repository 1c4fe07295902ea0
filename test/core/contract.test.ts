/**
 * The provider contract as users compile against it. The `@ts-expect-error` lines are part of
 * the test: `npm run typecheck` fails if any of them starts compiling, so the contract cannot
 * silently loosen. The runtime assertions check the helpers that ship with the types.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { GatewayAnswer } from '../../src/gateway/types.js';
import {
  chatMetadata,
  completeWithChat,
  contextToMessages,
  isModelProvider,
  type CallOptions,
  type ChatChunk,
  type ChatMessage,
  type ChatRequest,
  type ChatResponse,
  type Context,
  type MessageMetadata,
  type ModelInfo,
  type ModelProvider,
  type OutgoingMessage,
  type Provider,
  type Timeouts,
  type ToolCall,
} from '../../src/index.js';

/** The smallest possible provider: answers with the last user message reversed. */
class EchoProvider implements Provider {
  readonly name = 'echo';
  readonly requiresApiKey = false;
  async complete(context: Context, _options?: CallOptions): Promise<OutgoingMessage> {
    return {
      text: [...context.currentMessage].reverse().join(''),
      metadata: { providerUsed: this.name, model: context.model ?? 'echo-1', processingTimeMs: 0 },
    };
  }
  async isAvailable(): Promise<boolean> {
    return true;
  }
}

/** A model provider streaming one character per chunk. */
class SpellingProvider extends EchoProvider implements ModelProvider {
  readonly model = 'spell';
  async close(): Promise<void> {}
  async listModels(): Promise<ModelInfo[]> {
    return [
      {
        id: 'echo/spell',
        provider: 'echo',
        name: 'spell',
        capabilities: { chat: true, vision: false, tools: false, embeddings: false, streaming: true, thinking: false },
        pricing: null,
        local: true,
      },
    ];
  }
  async chat(request: ChatRequest): Promise<ChatResponse> {
    let text = '';
    for await (const chunk of this.chatStream(request)) text += chunk.content;
    return { message: { role: 'assistant', content: text }, model: 'spell', doneReason: 'stop', usage: {}, timings: {}, processingTimeMs: 0 };
  }
  async *chatStream(request: ChatRequest, options?: CallOptions): AsyncIterable<ChatChunk> {
    const last = request.messages.at(-1)?.content ?? '';
    for (const ch of last) {
      options?.signal?.throwIfAborted();
      yield { content: ch, done: false };
    }
    yield { content: '', done: true, doneReason: 'stop', usage: { completionTokens: last.length } };
  }
}

describe('the provider contract', () => {
  it('is implementable by a plain class, and isModelProvider tells the two apart', async () => {
    const echo = new EchoProvider();
    const spell = new SpellingProvider();
    assert.equal(isModelProvider(echo), false);
    assert.equal(isModelProvider(spell), true);
    const answer = await echo.complete({ systemPrompt: '', history: [], currentMessage: 'abc', model: 'm' });
    assert.equal(answer.text, 'cba');
    assert.equal(answer.metadata.model, 'm');
    const streamed: string[] = [];
    for await (const chunk of spell.chatStream({ messages: [{ role: 'user', content: 'hey' }] })) streamed.push(chunk.content);
    assert.deepEqual(streamed, ['h', 'e', 'y', '']);
    assert.equal((await spell.chat({ messages: [{ role: 'user', content: 'ok' }] })).message.content, 'ok');
  });

  it('keeps the field names other parts rely on', () => {
    const call: ToolCall = { name: 'get_weather', arguments: { city: 'Paris' } };
    const message: ChatMessage = { role: 'assistant', content: '', thinking: 'hmm', toolCalls: [call], images: [] };
    const toolResult: ChatMessage = { role: 'tool', content: '18C', toolName: 'get_weather' };
    const metadata: MessageMetadata = {
      providerUsed: 'ollama',
      model: 'llama3',
      processingTimeMs: 12,
      tokensUsed: 30,
      promptTokens: 10,
      completionTokens: 20,
      doneReason: 'stop',
      timings: { loadMs: 1, promptEvalMs: 2, evalMs: 3, tokensPerSecond: 4 },
    };
    // The gateway's envelope (replyTarget, fallbackFrom) is the gateway's type around the provider's answer.
    const out: GatewayAnswer = { text: 'hi', metadata, replyTarget: 'conv-1', thinking: 'hmm', toolCalls: [call] };
    const request: ChatRequest = {
      model: 'llama3',
      messages: [message, toolResult],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
      format: { type: 'object', properties: { a: { type: 'string' } } },
      think: 'high',
      options: { temperature: 0, seed: 1, num_ctx: 2048, custom_option: true },
      keepAlive: '5m',
    };
    const timeouts: Timeouts = { connectMs: 1, loadMs: 2, idleMs: 3, requestMs: 0 };
    const options: CallOptions = { signal: new AbortController().signal, timeouts: { loadMs: 5 } };
    assert.equal(out.metadata.tokensUsed, 30);
    assert.equal(request.format === 'json', false);
    assert.equal(timeouts.requestMs + (options.timeouts?.loadMs ?? 0), 5);

    // @ts-expect-error: a role outside the four is not a message.
    const badRole: ChatMessage = { role: 'robot', content: '' };
    // @ts-expect-error: metadata needs providerUsed, model and processingTimeMs.
    const badMetadata: MessageMetadata = { model: 'x', processingTimeMs: 1 };
    // @ts-expect-error: tool-call arguments are an object, never a JSON string.
    const badCall: ToolCall = { name: 'f', arguments: '{"a":1}' };
    // @ts-expect-error: format is 'json' or a schema object.
    const badFormat: ChatRequest = { messages: [], format: 'xml' };
    // @ts-expect-error: a ModelInfo must say whether it is local and what it costs.
    const badInfo: ModelInfo = { id: 'a', provider: 'b', name: 'c', capabilities: { chat: true, vision: false, tools: false, embeddings: false, streaming: true, thinking: false } };
    assert.ok([badRole, badMetadata, badCall, badFormat, badInfo].length === 5);
  });
});

describe('completeWithChat and chatMetadata', () => {
  it('completes through chat: messages from the context, the model override, metadata from the answer', async () => {
    const seen: ChatRequest[] = [];
    const provider = new (class extends SpellingProvider {
      override async chat(request: ChatRequest): Promise<ChatResponse> {
        seen.push(request);
        return {
          message: { role: 'assistant', content: 'ok', thinking: 'mm' },
          model: request.model ?? 'default',
          doneReason: 'stop',
          usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 },
          timings: { evalMs: 7 },
          processingTimeMs: 11,
        };
      }
    })();
    const out = await completeWithChat(provider, { systemPrompt: 'S', history: [], currentMessage: 'Q', model: 'm2' });
    assert.deepEqual(seen[0], { model: 'm2', messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'Q' }] });
    assert.equal(out.text, 'ok');
    assert.equal(out.thinking, 'mm');
    assert.deepEqual(out.metadata, {
      providerUsed: 'echo',
      model: 'm2',
      processingTimeMs: 11,
      tokensUsed: 5,
      promptTokens: 3,
      completionTokens: 2,
      doneReason: 'stop',
      timings: { evalMs: 7 },
    });
    await completeWithChat(provider, { systemPrompt: '', history: [], currentMessage: 'Q', model: '' });
    assert.equal(seen[1]?.model, undefined, 'an empty model override is no override');
  });

  it('leaves out what the provider did not report', () => {
    const meta = chatMetadata('x', { message: { role: 'assistant', content: '' }, model: 'm', usage: {}, timings: {}, processingTimeMs: 1 });
    assert.deepEqual(meta, { providerUsed: 'x', model: 'm', processingTimeMs: 1 });
  });
});

describe('contextToMessages', () => {
  const history: ChatMessage[] = [
    { role: 'user', content: 'first' },
    { role: 'assistant', content: 'answer' },
  ];

  it('puts the system prompt first, then the history as is, then the current message as user', () => {
    assert.deepEqual(contextToMessages({ systemPrompt: 'Be brief.', history, currentMessage: 'next' }), [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'answer' },
      { role: 'user', content: 'next' },
    ]);
  });

  it('sends no system message for an empty or blank prompt', () => {
    for (const systemPrompt of ['', '   \n']) {
      const messages = contextToMessages({ systemPrompt, history: [], currentMessage: 'q' });
      assert.deepEqual(messages, [{ role: 'user', content: 'q' }]);
    }
  });

  it('does not share arrays with the context it was given', () => {
    const context: Context = { systemPrompt: '', history: [...history], currentMessage: 'q' };
    const messages = contextToMessages(context);
    messages.push({ role: 'user', content: 'extra' });
    assert.equal(context.history.length, 2);
  });
});
