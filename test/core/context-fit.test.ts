import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_CHARS_PER_TOKEN,
  MESSAGE_OVERHEAD_TOKENS,
  PROMPT_OVERHEAD_TOKENS,
  TokenEstimator,
  fitMessages,
} from '../../src/index.js';
import type { ChatMessage } from '../../src/index.js';

const text = (n: number): string => 'x'.repeat(n);

/** A conversation: system, then `turns` user/assistant pairs of 400 characters each, then the current question. */
function conversation(turns: number): ChatMessage[] {
  const out: ChatMessage[] = [{ role: 'system', content: 'Be brief.' }];
  for (let i = 0; i < turns; i++) {
    out.push({ role: 'user', content: `q${i} ${text(396)}` });
    out.push({ role: 'assistant', content: `a${i} ${text(396)}` });
  }
  out.push({ role: 'user', content: 'And now?' });
  return out;
}

describe('fitMessages', () => {
  it('keeps everything when the conversation fits, and counts it', () => {
    const messages = conversation(2);
    const fit = fitMessages(messages, { budget: 10_000 });
    assert.deepEqual(fit.messages, messages);
    assert.equal(fit.leftOut, 0);
    assert.equal(fit.fits, true);
    assert.equal(fit.tokens, new TokenEstimator().prompt(messages));
  });

  it('drops the oldest turns first and keeps the system prompt and the current message', () => {
    const messages = conversation(10);
    // Each 400-character message costs ceil(400 / 3.2) + 4 = 129 tokens uncalibrated.
    const perMessage = Math.ceil(400 / DEFAULT_CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS;
    const fixed = new TokenEstimator().prompt([messages[0]!, messages[messages.length - 1]!]);
    const fit = fitMessages(messages, { budget: fixed + 3 * 2 * perMessage + 10 });
    assert.equal(fit.leftOut, 14, 'seven of the ten turns go');
    assert.equal(fit.messages.length, 1 + 6 + 1);
    assert.equal(fit.messages[0]?.role, 'system');
    assert.equal(fit.messages[1]?.content.startsWith('q7 '), true, 'the newest three turns stay, whole');
    assert.equal(fit.messages.at(-1)?.content, 'And now?');
    assert.equal(fit.fits, true);
    assert.ok(fit.tokens <= fixed + 3 * 2 * perMessage + 10);
  });

  it('never separates a tool call from its result', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: `weather? ${text(300)}` },
      { role: 'assistant', content: '', toolCalls: [{ name: 'weather', arguments: { city: 'Lisbon' } }] },
      { role: 'tool', content: text(2000), toolName: 'weather' },
      { role: 'assistant', content: 'Sunny.' },
      { role: 'user', content: 'Thanks. And tomorrow?' },
    ];
    const budget = new TokenEstimator().prompt(messages) - 10;
    const fit = fitMessages(messages, { budget });
    // The whole first turn (question, call, result, answer) goes together.
    assert.deepEqual(fit.messages, [messages[4]]);
    assert.equal(fit.leftOut, 4);
    assert.ok(!fit.messages.some((m) => m.role === 'tool'));
  });

  it('keeps the current turn whole when it ends in tool results, and says when even that does not fit', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'old question' },
      { role: 'assistant', content: 'old answer' },
      { role: 'user', content: 'look it up' },
      { role: 'assistant', content: '', toolCalls: [{ name: 'search', arguments: { q: 'x' } }] },
      { role: 'tool', content: text(4000), toolName: 'search' },
    ];
    const fit = fitMessages(messages, { budget: 100 });
    assert.deepEqual(fit.messages, [messages[0], messages[3], messages[4], messages[5]]);
    assert.equal(fit.leftOut, 2);
    assert.equal(fit.fits, false);
    assert.ok(fit.tokens > 100);
  });

  it('treats maxMessages as an upper bound on the history sent', () => {
    const messages = conversation(5);
    const fit = fitMessages(messages, { budget: 1_000_000, maxMessages: 4 });
    assert.equal(fit.leftOut, 6);
    assert.equal(fit.messages.length, 1 + 4 + 1);
  });

  it('uses exact counts where the caller has them', () => {
    const messages = conversation(3);
    const counted = new Map<ChatMessage, number>(messages.slice(1, 7).map((m) => [m, 1000]));
    const estimator = new TokenEstimator();
    const fixed = estimator.prompt([messages[0]!, messages[7]!]);
    const fit = fitMessages(messages, { budget: fixed + 2500, tokensOf: (m) => counted.get(m) });
    assert.equal(fit.leftOut, 4, 'only the last turn (2 x 1000 counted tokens) fits in 2500');
    assert.equal(fit.tokens, fixed + 2000);
  });
});

describe('TokenEstimator', () => {
  it('starts at the default ratio and learns a model\'s own from the server counts', () => {
    const estimator = new TokenEstimator();
    const messages: ChatMessage[] = [{ role: 'user', content: text(4000) }];
    const before = estimator.prompt(messages, 'm');
    assert.equal(before, PROMPT_OVERHEAD_TOKENS + Math.ceil(4000 / DEFAULT_CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS);
    assert.equal(estimator.isCalibrated('m'), false);
    // The server counted 808 tokens: 800 for the text, 8 of template.
    assert.equal(estimator.observe('m', messages, 808), true);
    assert.equal(estimator.isCalibrated('m'), true);
    assert.equal(estimator.charsPerToken('m'), 5);
    assert.equal(estimator.prompt(messages, 'm'), 808);
    assert.equal(estimator.charsPerToken('other'), DEFAULT_CHARS_PER_TOKEN, 'calibration is per model');
  });

  it('weighs every observation by its size and forgets slowly', () => {
    const estimator = new TokenEstimator();
    estimator.observe('m', [{ role: 'user', content: text(1000) }], 1000 / 2 + 8);
    estimator.observe('m', [{ role: 'user', content: text(3000) }], 3000 / 4 + 8);
    assert.equal(estimator.charsPerToken('m'), 4000 / 1250);
    assert.equal(estimator.calibration('m')?.samples, 2);
    for (let i = 0; i < 30; i++) estimator.observe('m', [{ role: 'user', content: text(40_000) }], 10_000 + 8);
    const c = estimator.calibration('m')!;
    assert.ok(c.tokens <= 200_000, 'the sums decay');
    assert.ok(Math.abs(estimator.charsPerToken('m') - 4) < 0.01);
  });

  it('refuses counts it cannot learn from', () => {
    const estimator = new TokenEstimator();
    const plain: ChatMessage[] = [{ role: 'user', content: text(100) }];
    assert.equal(estimator.observe('m', [{ role: 'user', content: text(100), images: ['AAAA'] }], 700), false, 'images');
    assert.equal(estimator.observe('m', plain, 0), false, 'no count');
    assert.equal(estimator.observe('m', plain, 4096), false, 'an implausible ratio (a truncated or padded count)');
    assert.equal(estimator.isCalibrated('m'), false);
  });

  it('starts from a saved calibration and ignores an unusable one', () => {
    const estimator = new TokenEstimator([
      ['good', { chars: 4500, tokens: 1000, samples: 3 }],
      ['bad', { chars: 0, tokens: 0, samples: 0 }],
    ]);
    assert.equal(estimator.charsPerToken('good'), 4.5);
    assert.equal(estimator.isCalibrated('bad'), false);
  });

  it('counts images, tool calls and tool names', () => {
    const estimator = new TokenEstimator();
    const plain = estimator.message({ role: 'user', content: 'hi' });
    assert.ok(estimator.message({ role: 'user', content: 'hi', images: ['AAAA'] }) > plain + 200);
    assert.ok(estimator.message({ role: 'assistant', content: '', toolCalls: [{ name: 'search', arguments: { q: text(320) } }] }) > 100);
  });
});
