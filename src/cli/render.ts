/**
 * Printing answers: streamed tokens to stdout as they arrive, thinking dimmed on stderr
 * (so `omega ask ... > answer.txt` captures only the answer), and the final newline.
 */
import { userInfo } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { GatewayEvent } from '../gateway/gateway.js';
import type { GatewayAnswer, GatewayMetadata } from '../gateway/types.js';
import type { CliContext } from './context.js';
import { formatDuration } from './output.js';

/** Options of {@link AnswerPrinter}. */
export interface AnswerPrinterOptions {
  /**
   * Print the model's reasoning (dimmed, on stderr). Off unless the user asked for thinking:
   * since Ollama 0.12.4 a thinking model reasons by default, and that is not the answer.
   */
  showThinking?: boolean;
}

/** Whether thinking is printed for the `--think` / `--show-thinking` flags given. */
export function showsThinking(options: { think?: boolean; showThinking?: boolean }): boolean {
  return options.think === true || options.showThinking === true;
}

/** Writes answer text and thinking as they arrive and remembers what was written. */
export class AnswerPrinter {
  private readonly ctx: CliContext;
  private readonly showThinking: boolean;
  private lastOut = '\n';
  private lastErr = '\n';
  private thinkingOpen = false;
  /** Answer text printed so far. */
  text = '';
  /** Thinking printed so far. */
  thinking = '';

  constructor(ctx: CliContext, options: AnswerPrinterOptions = {}) {
    this.ctx = ctx;
    this.showThinking = options.showThinking === true;
  }

  /** Prints a piece of the model's reasoning, dimmed, on stderr (when thinking is shown). */
  writeThinking(delta: string): void {
    if (delta === '' || !this.showThinking) return;
    this.thinking += delta;
    this.thinkingOpen = true;
    this.ctx.io.stderr.write(this.ctx.err.dim(delta));
    this.lastErr = delta.slice(-1);
  }

  /** Prints a piece of the answer on stdout. */
  writeText(delta: string): void {
    if (delta === '') return;
    this.closeThinking();
    this.text += delta;
    this.ctx.io.stdout.write(delta);
    this.lastOut = delta.slice(-1);
  }

  /** Ends the thinking block with a blank line so the answer stands apart. */
  private closeThinking(): void {
    if (!this.thinkingOpen) return;
    this.thinkingOpen = false;
    this.ctx.io.stderr.write(this.lastErr === '\n' ? '\n' : '\n\n');
    this.lastErr = '\n';
  }

  /** Ends the output with exactly one newline (also after an interrupted answer). */
  finish(): void {
    if (this.thinkingOpen && this.text === '') {
      this.thinkingOpen = false;
      if (this.lastErr !== '\n') this.ctx.io.stderr.write('\n');
    }
    if (this.lastOut !== '\n') this.ctx.io.stdout.write('\n');
    this.lastOut = '\n';
  }

  /**
   * Consumes a gateway stream, printing as it goes. Returns the final message, or
   * undefined when the stream ended without one.
   */
  async consume(events: AsyncIterable<GatewayEvent>): Promise<GatewayAnswer | undefined> {
    let final: GatewayAnswer | undefined;
    try {
      for await (const event of events) {
        if (event.type === 'chunk') {
          if (event.chunk.thinking) this.writeThinking(event.chunk.thinking);
          this.writeText(event.chunk.content);
        } else {
          final = event.message;
        }
      }
    } finally {
      this.finish();
    }
    return final;
  }

  /** Prints a whole (non-streamed) answer. */
  printMessage(message: GatewayAnswer): void {
    if (message.thinking) this.writeThinking(message.thinking);
    this.writeText(message.text);
    this.finish();
  }
}

/**
 * One dim line of statistics about an answer, like `ollama run --verbose`: provider,
 * model, tokens, speed and time.
 */
export function formatStats(metadata: GatewayMetadata): string {
  const parts = [`${metadata.providerUsed}/${metadata.model}`];
  if (metadata.fallbackFrom && metadata.fallbackFrom.length > 0) parts.push(`after ${metadata.fallbackFrom.join(', ')}`);
  if (metadata.promptTokens !== undefined) parts.push(`${metadata.promptTokens} prompt tokens`);
  if (metadata.completionTokens !== undefined) parts.push(`${metadata.completionTokens} answer tokens`);
  const rate = metadata.timings?.tokensPerSecond;
  if (rate !== undefined) parts.push(`${rate.toFixed(1)} tokens/s`);
  if (metadata.timings?.loadMs !== undefined && metadata.timings.loadMs >= 1) parts.push(`load ${formatDuration(metadata.timings.loadMs)}`);
  parts.push(`total ${formatDuration(metadata.processingTimeMs)}`);
  if (metadata.doneReason !== undefined && metadata.doneReason !== 'stop') parts.push(`stopped: ${metadata.doneReason}`);
  return parts.join(' · ');
}

/**
 * The one-line notice `omega ask` and `omega chat` print on stderr when the answer did not see
 * the whole conversation: history left out to fit the window, or a prompt the server cut itself.
 * Undefined when there is nothing to say.
 */
export function contextNotice(metadata: GatewayMetadata, opts: { chat?: boolean } = {}): string | undefined {
  const window = metadata.contextWindow === undefined ? 'its' : `the ${metadata.contextWindow}-token`;
  const model = `${metadata.providerUsed}/${metadata.model}`;
  if (metadata.truncated === true) {
    return (
      `warning: the server cut the prompt to ${window} context window of ${model} without saying so, so the answer saw only part of it; ` +
      'upgrade Ollama to 0.12.6 or later (it refuses instead), or set [provider.ollama] context = "auto".'
    );
  }
  const n = metadata.messagesLeftOut ?? 0;
  if (n === 0) return undefined;
  return (
    `note: left out the ${n === 1 ? 'oldest message' : `${n} oldest messages`} of this conversation to fit ${window} context window of ${model}` +
    `${opts.chat === true ? ' (/context shows it)' : ''}; set [provider.ollama] context = "auto" to let the window grow.`
  );
}

/** Who is talking, for the audit log: the OS user name, or `user`. */
export function senderName(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username || env.USER || 'user';
  } catch {
    return env.USER ?? 'user';
  }
}

/** A fresh conversation id that is short enough to type back: `chat-20250707-3f9a1c`. */
export function newConversationId(prefix: string, now: Date = new Date()): string {
  const day = now.toISOString().slice(0, 10).replace(/-/g, '');
  return `${prefix}-${day}-${randomBytes(3).toString('hex')}`;
}
