/**
 * `omega ask`: one question, one answer, streamed.
 */
import { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { IncomingMessage } from '../../gateway/gateway.js';
import type { CliContext } from '../context.js';
import { formatJson } from '../output.js';
import { AnswerPrinter, contextNotice, formatStats, newConversationId, senderName, showsThinking } from '../render.js';
import { resolvePrompt } from '../stdin.js';
import { embeddedNotice } from '../embedded-notice.js';

/** Options of `omega ask` after parsing. */
interface AskOptions {
  model?: string;
  provider?: string;
  system?: string;
  stream: boolean;
  json?: boolean;
  conversation?: string;
  think?: boolean;
  showThinking?: boolean;
}

/** Builds the `ask` command. */
export function askCommand(ctx: CliContext): Command {
  return new Command('ask')
    .description('ask one question and stream the answer')
    .argument('[prompt...]', 'the question; nothing or `-` reads it from stdin')
    .option('-m, --model <name>', "model to use instead of the provider's configured one")
    .option('-p, --provider <name>', 'provider to try first instead of [provider] default')
    .option('-s, --system <text>', 'system prompt instead of [omega] system_prompt')
    .option('--no-stream', 'wait for the whole answer instead of streaming it')
    .option('--json', 'print one JSON object {text, metadata} instead of plain text')
    .option('--conversation <id>', 'continue (and store into) this conversation; without it nothing is remembered')
    .option('--think', 'ask the model to think first; thinking is shown dimmed on stderr')
    .option('--no-think', 'ask a thinking model not to think')
    .option('--show-thinking', 'show the reasoning a thinking model produces on its own (without asking it to think)')
    .addHelpText(
      'after',
      `
Examples:
  omega ask "Why is the sky blue?"
  echo "Why is the sky blue?" | omega ask
  git diff | omega ask "Write a commit message for this diff"
  omega ask --json --model llama3.2 "Name three primes" | jq .text
  omega ask --conversation trip "Plan a day in Lisbon"`,
    )
    .action(async (words: string[], options: AskOptions) => {
      await runAsk(ctx, words, options);
    });
}

async function runAsk(ctx: CliContext, words: string[], options: AskOptions): Promise<void> {
  const text = await resolvePrompt(words, ctx.io);
  if (text.trim() === '') {
    throw new UsageError('No prompt given: pass it as arguments or pipe it on stdin.', {
      hint: 'Example: omega ask "Why is the sky blue?"',
    });
  }
  // A one-off question is not remembered: no conversation to store it under, and no
  // database to open, so `ask` works even where ~/.omega is not writable.
  const remember = options.conversation !== undefined;
  const gateway = await ctx.openGateway({ memory: remember });
  try {
    const message: IncomingMessage = {
      channel: 'cli',
      conversationId: options.conversation ?? newConversationId('ask'),
      sender: senderName(ctx.io.env),
      text,
    };
    if (options.model !== undefined) message.model = options.model;
    if (options.provider !== undefined) message.provider = options.provider;
    if (options.system !== undefined) message.systemPrompt = options.system;
    if (options.think !== undefined) message.think = options.think;
    ctx.logger.debug({ model: options.model, provider: options.provider, remember }, 'asking');

    const printer = new AnswerPrinter(ctx, { showThinking: showsThinking(options) });
    const answer = await ctx.interruptible(async (signal) => {
      if (options.json === true) {
        const out = await gateway.handle(message, { signal });
        const json: Record<string, unknown> = { text: out.text, metadata: out.metadata };
        if (out.thinking) json.thinking = out.thinking;
        ctx.print(formatJson(json));
        return out;
      }
      if (!options.stream) {
        const out = await gateway.handle(message, { signal });
        printer.printMessage(out);
        return out;
      }
      return printer.consume(gateway.stream(message, { signal }));
    });
    const notice = answer === undefined ? undefined : contextNotice(answer.metadata);
    if (notice !== undefined) ctx.io.stderr.write(`${ctx.err.dim(notice)}\n`);
    const engine = answer === undefined ? undefined : embeddedNotice(answer.metadata);
    if (engine !== undefined) ctx.io.stderr.write(`${ctx.err.dim(engine)}\n`);
    if (answer !== undefined && ctx.verbose && options.json !== true) {
      ctx.io.stderr.write(`${ctx.err.dim(formatStats(answer.metadata))}\n`);
    }
  } finally {
    await gateway.close();
  }
}
