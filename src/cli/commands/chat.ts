/**
 * `omega chat`: an interactive conversation, remembered under a conversation id.
 */
import { createInterface, type Interface } from 'node:readline';
import { Command } from 'commander';
import type { Gateway, IncomingMessage } from '../../gateway/gateway.js';
import type { CliContext } from '../context.js';
import { EXIT, describeError, describeStack, scrub } from '../errors.js';
import { collectModels, modelTable } from '../models.js';
import { AnswerPrinter, contextNotice, formatStats, newConversationId, senderName, showsThinking } from '../render.js';
import { formatContextReport } from '../context-report.js';

/** Options of `omega chat` after parsing. */
interface ChatOptions {
  conversation?: string;
  model?: string;
  provider?: string;
  system?: string;
  think?: boolean;
  showThinking?: boolean;
}

const HELP = `Commands:
  /help           this list
  /model [NAME]   show or change the model for the next answers
  /models         list the models of the current provider
  /context        show the context window in use and how much of it the conversation fills
  /forget         delete this conversation's history
  /exit           leave (also /bye, Ctrl-D, or Ctrl-C twice at an empty prompt)
Ctrl-C during an answer stops that answer.`;

/** One REPL session. */
class ChatSession {
  private readonly ctx: CliContext;
  private readonly gateway: Gateway;
  private readonly options: ChatOptions;
  private readonly conversationId: string;
  private readonly interactive: boolean;
  private readonly sender: string;
  private model: string | undefined;
  private rl: Interface | undefined;
  private readonly queue: string[] = [];
  private inputClosed = false;
  private wake: (() => void) | undefined;
  /** The answer (or listing) in progress; Ctrl-C aborts it. */
  private current: AbortController | undefined;
  /** Set by a first Ctrl-C at an empty prompt; a second one leaves. */
  private exitArmed = false;
  private leaving = false;
  private failures = 0;
  /** Set when the session must end with a specific status (an interrupt with piped input). */
  private exitCode: number | undefined;

  constructor(ctx: CliContext, gateway: Gateway, options: ChatOptions) {
    this.ctx = ctx;
    this.gateway = gateway;
    this.options = options;
    this.conversationId = options.conversation ?? newConversationId('chat');
    this.interactive = ctx.io.stdin.isTTY === true;
    this.sender = senderName(ctx.io.env);
    this.model = options.model;
  }

  private get providerName(): string {
    return this.options.provider ?? this.ctx.config.provider.default;
  }

  /** The model answers come from: `/model`'s choice, else the provider's configured one. */
  private currentModel(): string {
    if (this.model !== undefined) return this.model;
    try {
      return this.gateway.provider(this.providerName).model ?? '(provider default)';
    } catch {
      return '(provider default)';
    }
  }

  async run(): Promise<number> {
    const { io } = this.ctx;
    // Validate --provider before the first prompt rather than on the first answer.
    this.gateway.provider(this.providerName);
    const previous = (await this.gateway.memory?.history(this.conversationId, this.ctx.config.memory.maxContextMessages))?.length ?? 0;
    const resumed = this.options.conversation !== undefined && previous > 0;
    io.stderr.write(
      `${this.ctx.err.dim(
        `${resumed ? 'Resuming' : 'New'} conversation ${this.conversationId}${resumed ? ` (${previous} earlier messages)` : ''}` +
          ` with ${this.providerName}/${this.currentModel()}. Type /help for commands, /exit to leave.`,
      )}\n`,
    );
    if (!resumed) io.stderr.write(`${this.ctx.err.dim(`Continue it later with: omega chat --conversation ${this.conversationId}`)}\n`);

    const rl = createInterface({
      input: io.stdin,
      ...(this.interactive ? { output: io.stdout as NodeJS.WritableStream } : {}),
      terminal: this.interactive,
      prompt: '>>> ',
      historySize: 500,
    });
    this.rl = rl;
    rl.on('line', (line) => {
      this.exitArmed = false;
      this.queue.push(line);
      this.notify();
    });
    rl.on('close', () => {
      this.inputClosed = true;
      this.notify();
    });
    // On a terminal readline turns Ctrl-C into this event; a real signal (kill -INT, or
    // Ctrl-C with piped input) arrives at the process.
    rl.on('SIGINT', () => this.interrupt());
    const onSignal = (): void => this.interrupt();
    process.on('SIGINT', onSignal);

    try {
      for (;;) {
        const line = this.queue.shift();
        if (line === undefined) {
          if (this.inputClosed || this.leaving) break;
          if (this.interactive) rl.prompt();
          await new Promise<void>((resolve) => (this.wake = resolve));
          this.wake = undefined;
          continue;
        }
        await this.handle(line);
        if (this.leaving) break;
      }
    } finally {
      process.off('SIGINT', onSignal);
      rl.close();
      // Let the shell prompt start on a fresh line after Ctrl-D.
      if (this.interactive && !this.leaving) io.stdout.write('\n');
    }
    if (this.exitCode !== undefined) return this.exitCode;
    return !this.interactive && this.failures > 0 ? EXIT.error : EXIT.ok;
  }

  private notify(): void {
    this.wake?.();
  }

  private interrupt(): void {
    if (this.current !== undefined) {
      this.current.abort();
      return;
    }
    if (!this.interactive) {
      // Nobody at a keyboard: an interrupt between answers ends the session.
      this.exitCode = EXIT.interrupted;
      this.leave();
      return;
    }
    const rl = this.rl;
    if (rl !== undefined && rl.line.length > 0) {
      // Like a shell: Ctrl-C throws away the line being typed.
      rl.write(null, { ctrl: true, name: 'e' });
      rl.write(null, { ctrl: true, name: 'u' });
      this.ctx.io.stdout.write('\n');
      rl.prompt();
      this.exitArmed = false;
      return;
    }
    if (this.exitArmed) {
      this.ctx.io.stdout.write('\n');
      this.leave();
      return;
    }
    this.exitArmed = true;
    this.ctx.io.stdout.write('\n(To leave, press Ctrl-C again, Ctrl-D, or type /exit.)\n');
    rl?.prompt();
  }

  private leave(): void {
    this.leaving = true;
    this.notify();
  }

  private async handle(raw: string): Promise<void> {
    const line = raw.trim();
    if (line === '') return;
    if (line.startsWith('/')) {
      await this.command(line);
      return;
    }
    await this.answer(raw.trimEnd());
  }

  private async command(line: string): Promise<void> {
    const [name = '', ...rest] = line.split(/\s+/);
    const arg = rest.join(' ').trim();
    const out = (text: string): void => {
      this.ctx.io.stdout.write(`${text}\n`);
    };
    switch (name.toLowerCase()) {
      case '/help':
      case '/?':
        out(HELP);
        return;
      case '/exit':
      case '/bye':
      case '/quit':
        this.leave();
        return;
      case '/forget': {
        const removed = (await this.gateway.memory?.forget(this.conversationId)) ?? 0;
        out(`Forgot ${removed} message${removed === 1 ? '' : 's'} of conversation ${this.conversationId}.`);
        return;
      }
      case '/model':
        if (arg === '') {
          out(`Model: ${this.currentModel()} (provider ${this.providerName}).`);
        } else {
          this.model = arg;
          out(`Using model ${arg} from now on.`);
        }
        return;
      case '/models':
        await this.listModels();
        return;
      case '/context':
        await this.showContext();
        return;
      default:
        this.ctx.io.stderr.write(`omega: unknown command ${name}; type /help for the list.\n`);
    }
  }

  private async listModels(): Promise<void> {
    const controller = new AbortController();
    this.current = controller;
    try {
      const listing = await collectModels(
        [{ name: this.providerName, get: () => this.gateway.provider(this.providerName) }],
        controller.signal,
        this.ctx.logger,
      );
      for (const error of listing.errors) this.report(error.message);
      if (listing.models.length > 0) this.ctx.io.stdout.write(`${modelTable(listing.models, this.ctx.out).join('\n')}\n`);
      else if (listing.errors.length === 0) this.ctx.io.stdout.write('No models installed.\n');
    } catch (error) {
      if (!controller.signal.aborted) this.report(error);
    } finally {
      this.current = undefined;
    }
  }

  private async showContext(): Promise<void> {
    const controller = new AbortController();
    this.current = controller;
    try {
      const report = await this.gateway.contextReport(this.conversationId, {
        provider: this.providerName,
        ...(this.model === undefined ? {} : { model: this.model }),
        ...(this.options.system === undefined ? {} : { systemPrompt: this.options.system }),
        signal: controller.signal,
      });
      this.ctx.io.stdout.write(`${formatContextReport(report).join('\n')}\n`);
    } catch (error) {
      if (!controller.signal.aborted) this.report(error);
    } finally {
      this.current = undefined;
    }
  }

  private async answer(text: string): Promise<void> {
    const controller = new AbortController();
    this.current = controller;
    const printer = new AnswerPrinter(this.ctx, { showThinking: showsThinking(this.options) });
    const message: IncomingMessage = {
      channel: 'cli',
      conversationId: this.conversationId,
      sender: this.sender,
      text,
    };
    if (this.model !== undefined) message.model = this.model;
    if (this.options.provider !== undefined) message.provider = this.options.provider;
    if (this.options.system !== undefined) message.systemPrompt = this.options.system;
    if (this.options.think !== undefined) message.think = this.options.think;
    try {
      const final = await printer.consume(this.gateway.stream(message, { signal: controller.signal }));
      const notice = final === undefined ? undefined : contextNotice(final.metadata, { chat: true });
      if (notice !== undefined) this.ctx.io.stderr.write(`${this.ctx.err.dim(notice)}\n`);
      if (final !== undefined && this.ctx.verbose) this.ctx.io.stderr.write(`${this.ctx.err.dim(formatStats(final.metadata))}\n`);
    } catch (error) {
      if (controller.signal.aborted) {
        this.ctx.io.stderr.write(`${this.ctx.err.dim('(answer stopped)')}\n`);
      } else {
        this.failures += 1;
        this.report(error);
      }
    } finally {
      this.current = undefined;
    }
  }

  /** One `omega: ...` line on stderr; the REPL carries on. */
  private report(error: unknown): void {
    const text = typeof error === 'string' ? error : describeError(error, this.ctx.verbose);
    this.ctx.io.stderr.write(`omega: ${scrub(text, this.ctx.secrets())}\n`);
    if (this.ctx.verbose && error instanceof Error) this.ctx.io.stderr.write(`${scrub(describeStack(error), this.ctx.secrets())}\n`);
  }
}

/** Builds the `chat` command. */
export function chatCommand(ctx: CliContext): Command {
  return new Command('chat')
    .description('talk with a model; the conversation is remembered under an id')
    .option('--conversation <id>', 'resume this conversation (default: start a new one and print its id)')
    .option('-m, --model <name>', 'model to use instead of the configured one')
    .option('-p, --provider <name>', 'provider to use instead of the default')
    .option('-s, --system <text>', 'system prompt instead of [omega] system_prompt')
    .option('--think', 'ask the model to think first; thinking is shown dimmed')
    .option('--no-think', 'ask a thinking model not to think')
    .option('--show-thinking', 'show the reasoning a thinking model produces on its own (without asking it to think)')
    .addHelpText('after', `\n${HELP}\n\nWith piped input every line is one message, e.g.\n  printf 'Hi\\nWhat did I just say?\\n' | omega chat`)
    .action(async (options: ChatOptions) => {
      const gateway = await ctx.openGateway({ memory: true });
      try {
        ctx.exitCode = await new ChatSession(ctx, gateway, options).run();
      } finally {
        await gateway.close();
      }
    });
}
