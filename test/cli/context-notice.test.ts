import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { contextNotice } from '../../src/cli/render.js';
import { formatContextReport } from '../../src/cli/context-report.js';
import type { GatewayMetadata } from '../../src/gateway/types.js';

const base: GatewayMetadata = { providerUsed: 'ollama', model: 'omega-gemma', processingTimeMs: 5 };

describe('contextNotice', () => {
  it('says nothing when the whole conversation was sent', () => {
    assert.equal(contextNotice(base), undefined);
    assert.equal(contextNotice({ ...base, messagesLeftOut: 0, contextWindow: 4096 }), undefined);
  });

  it('names how many messages went, the window and the model, in one line', () => {
    const line = contextNotice({ ...base, messagesLeftOut: 6, contextWindow: 4096 }, { chat: true });
    assert.equal(
      line,
      'note: left out the 6 oldest messages of this conversation to fit the 4096-token context window of ollama/omega-gemma (/context shows it); set [provider.ollama] context = "auto" to let the window grow.',
    );
    assert.ok(!contextNotice({ ...base, messagesLeftOut: 1 })!.includes('/context'), '/context exists only in chat');
    assert.ok(contextNotice({ ...base, messagesLeftOut: 1 })!.includes('the oldest message of'));
  });

  it('warns when the server cut the prompt itself', () => {
    const line = contextNotice({ ...base, truncated: true, contextWindow: 4096, messagesLeftOut: 0 })!;
    assert.match(line, /^warning: the server cut the prompt to the 4096-token context window of ollama\/omega-gemma/);
    assert.match(line, /0\.12\.6/);
    assert.ok(!line.includes('\n'));
  });
});

describe('formatContextReport', () => {
  it('shows the window, its source, the room for the answer and what the history costs', () => {
    const lines = formatContextReport({
      provider: 'ollama',
      model: 'omega-gemma',
      window: { tokens: 4096, limit: 16_384, trained: 32_768, source: 'auto' },
      answerReserve: 1024,
      historyMessages: 14,
      historySent: 10,
      promptTokens: 2310,
      calibrated: true,
      last: { ...base, promptTokens: 2120, contextWindow: 4096, messagesLeftOut: 4 },
    });
    assert.deepEqual(lines, [
      'Context window of ollama/omega-gemma: 4,096 tokens (sized to the conversation by context = "auto"), may grow to 16,384; trained for 32,768.',
      "Kept for the answer: 1,024 tokens. History: 10 of 14 remembered messages would be sent, about 2,310 tokens with the system prompt (estimate calibrated on this model's counts).",
      'Last answer: 2,120 prompt tokens, a 4,096-token window, 4 messages left out.',
    ]);
  });

  it('says so when the provider does not report a window', () => {
    const lines = formatContextReport({ provider: 'anthropic', answerReserve: 1024, historyMessages: 0, historySent: 0, promptTokens: 8, calibrated: false });
    assert.match(lines[0]!, /not reported by the provider; history is bounded by \[memory\] max_context_messages only\./);
  });
});
