/**
 * What `/context` in `omega chat` prints: the context window the next answer gets, where that
 * number comes from, and how much of it the conversation fills.
 */
import type { ContextReport } from '../gateway/gateway.js';

const SOURCES: Record<string, string> = {
  options: 'set by options.num_ctx',
  auto: 'sized to the conversation by context = "auto"',
  loaded: 'as the model is loaded now',
  'server-default': "the server's default",
  trained: "the model's trained length",
};

function n(value: number): string {
  return value.toLocaleString('en-US');
}

/** The lines of a {@link ContextReport}, for people. */
export function formatContextReport(r: ContextReport): string[] {
  const model = `${r.provider}/${r.model ?? '(provider default)'}`;
  const lines: string[] = [];
  const w = r.window;
  if (w === undefined) {
    lines.push(`Context window of ${model}: not reported by the provider; history is bounded by [memory] max_context_messages only.`);
  } else {
    let line = `Context window of ${model}: ${n(w.tokens)} tokens (${SOURCES[w.source] ?? w.source})`;
    if (w.limit > w.tokens) line += `, may grow to ${n(w.limit)}`;
    if (w.trained !== undefined) line += `; trained for ${n(w.trained)}`;
    lines.push(`${line}.`);
  }
  lines.push(
    `Kept for the answer: ${n(r.answerReserve)} tokens. History: ${r.historySent} of ${r.historyMessages} remembered messages would be sent, ` +
      `about ${n(r.promptTokens)} tokens with the system prompt (${r.calibrated ? "estimate calibrated on this model's counts" : 'uncalibrated estimate'}).`,
  );
  const last = r.last;
  if (last !== undefined) {
    const parts: string[] = [];
    if (last.promptTokens !== undefined) parts.push(`${n(last.promptTokens)} prompt tokens`);
    if (last.contextWindow !== undefined) parts.push(`a ${n(last.contextWindow)}-token window`);
    if (last.messagesLeftOut !== undefined) parts.push(`${last.messagesLeftOut} messages left out`);
    if (last.truncated === true) parts.push('cut by the server');
    if (parts.length > 0) lines.push(`Last answer: ${parts.join(', ')}.`);
  }
  return lines;
}
