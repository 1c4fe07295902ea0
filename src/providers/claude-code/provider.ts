/**
 * The Claude Code provider: Omega's contract over the `claude` CLI in print mode. Each call is
 * one subprocess (`claude -p`), the prompt goes in on stdin, and the answer comes back as the
 * CLI's JSON result (`--output-format json`) or, streamed, as its JSON lines
 * (`--output-format stream-json --verbose`).
 */
import { performance } from 'node:perf_hooks';
import type {
  CallOptions,
  ChatChunk,
  ChatMessage,
  ChatRequest,
  ChatResponse,
  Context,
  DoneReason,
  MessageMetadata,
  ModelInfo,
  ModelProvider,
  OutgoingMessage,
  Timings,
  Usage,
} from '../../core/types.js';
import { contextToMessages } from '../../core/types.js';
import { ProviderError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import type { ClaudeCodeConfig } from './spec.js';
import { CliRun } from './process.js';
import type { CliEnd } from './process.js';
import type { RunContext } from './errors.js';
import { exitError, fromEnd, resultError } from './errors.js';
import type { ClaudePrompt, WireResult } from './wire.js';
import { PROVIDER, doneReasonOf, findResult, isResult, modelOf, renderPrompt, resultText, toUsage } from './wire.js';

/** Defaults of the executable, the whole-run limit in seconds and `--max-turns`. */
export const CLAUDE_CODE_DEFAULTS: Readonly<{ command: string; timeoutSecs: number; maxTurns: number }> = Object.freeze({
  command: 'claude',
  timeoutSecs: 300,
  maxTurns: 1,
});

/** Model aliases the CLI accepts for `--model`, listed by {@link ClaudeCodeProvider.listModels}. */
export const CLAUDE_CODE_ALIASES: readonly string[] = ['sonnet', 'opus', 'haiku'];

/** Construction options of {@link ClaudeCodeProvider}. */
export interface ClaudeCodeProviderOptions {
  /** The executable: a name looked up on `PATH` (of `env`) or a path; `claude` by default. */
  command?: string;
  /** Passed as `--model` when set; otherwise the CLI's own default model answers. */
  model?: string;
  /** Passed as `--max-turns`; 1 by default (a plain answer, no tool round trips). */
  maxTurns?: number;
  /** Whole-run limit in seconds; `0` turns it off. 300 by default. */
  timeoutSecs?: number;
  /**
   * How the system prompt reaches the CLI: `append` (`--append-system-prompt`, keeps Claude
   * Code's own instructions; the default) or `replace` (`--system-prompt`).
   */
  systemPromptMode?: 'append' | 'replace';
  /** More arguments, put before Omega's own (e.g. `['--permission-mode', 'plan']`). */
  extraArgs?: readonly string[];
  /** Working directory of the CLI; the current one by default. */
  cwd?: string;
  /** Environment of the CLI; `process.env` by default. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Time between SIGTERM and SIGKILL when a run is stopped; 2000 ms by default. */
  killGraceMs?: number;
  /** Upper bound of the CLI's stdout per run; 32 MiB by default. */
  maxOutputBytes?: number;
}

/** The full outcome of one CLI run, beyond what the contract's shapes carry. */
export interface ClaudeCodeResult {
  text: string;
  /** The model that answered (the CLI's report, else the configured model or alias). */
  model: string;
  /** `stop`, or `max_turns` when the turn limit cut the run short after some text. */
  doneReason: DoneReason;
  usage: Usage;
  timings: Timings;
  /** The CLI's session id (usable with `claude --resume`). */
  sessionId?: string;
  /** What the run cost, as the CLI reports it. */
  costUsd?: number;
  numTurns?: number;
  /** Client wall-clock time of the run. */
  processingTimeMs: number;
}

const DEFAULT_KILL_GRACE_MS = 2000;
const DEFAULT_MAX_OUTPUT = 32 * 1024 * 1024;
const VERSION_TIMEOUT_MS = 5000;

const CAPABILITIES = Object.freeze({
  chat: true,
  vision: false,
  tools: false,
  embeddings: false,
  streaming: true,
  thinking: false,
});

/** Runs the Claude Code CLI. Needs no API key of its own: the CLI uses its login (or ANTHROPIC_API_KEY). */
export class ClaudeCodeProvider implements ModelProvider {
  /** Always `claude-code`. */
  readonly name = 'claude-code' as const;
  /** The CLI brings its own credentials. */
  readonly requiresApiKey = false as const;
  /** The executable as configured. */
  readonly command: string;
  /** The model passed with `--model`, if any. */
  readonly model: string | undefined;
  readonly maxTurns: number;
  /** Whole-run limit in milliseconds; `0` means none. */
  readonly timeoutMs: number;

  private readonly systemPromptMode: 'append' | 'replace';
  private readonly extraArgs: readonly string[];
  private readonly cwd: string | undefined;
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly logger: Logger;
  private readonly killGraceMs: number;
  private readonly maxOutputBytes: number;
  /** Runs in flight, so that {@link close} can stop them. */
  private readonly runs = new Set<CliRun>();

  constructor(opts: ClaudeCodeProviderOptions = {}) {
    this.command = opts.command !== undefined && opts.command.trim() !== '' ? opts.command.trim() : CLAUDE_CODE_DEFAULTS.command;
    this.model = opts.model !== undefined && opts.model.trim() !== '' ? opts.model.trim() : undefined;
    this.maxTurns = Math.max(1, Math.floor(opts.maxTurns ?? CLAUDE_CODE_DEFAULTS.maxTurns));
    const secs = opts.timeoutSecs ?? CLAUDE_CODE_DEFAULTS.timeoutSecs;
    this.timeoutMs = Number.isFinite(secs) && secs > 0 ? Math.round(secs * 1000) : 0;
    this.systemPromptMode = opts.systemPromptMode ?? 'append';
    this.extraArgs = opts.extraArgs ?? [];
    this.cwd = opts.cwd;
    this.env = opts.env;
    this.logger = (opts.logger ?? silentLogger).child({ provider: PROVIDER });
    this.killGraceMs = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.maxOutputBytes = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  }

  /** A provider from the loaded `[provider.claude-code]` section. */
  static fromConfig(config: ClaudeCodeConfig, logger?: Logger): ClaudeCodeProvider {
    return new ClaudeCodeProvider({
      command: config.command,
      maxTurns: config.maxTurns,
      timeoutSecs: config.timeoutSecs,
      ...(config.model === undefined ? {} : { model: config.model }),
      ...(logger === undefined ? {} : { logger }),
    });
  }

  // ---- contract -------------------------------------------------------------------------

  /** Answers the current message of `context`; earlier turns are sent as a transcript. */
  async complete(context: Context, options?: CallOptions): Promise<OutgoingMessage> {
    const model = context.model !== undefined && context.model !== '' ? context.model : this.model;
    const r = await this.run(renderPrompt(contextToMessages(context)), model, options);
    return { text: r.text, metadata: metadataOf(r) };
  }

  /** `claude --version` within `timeoutMs` (5 s by default): true when it exits with 0. Never throws. */
  async isAvailable(options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<boolean> {
    try {
      await this.version(options);
      return true;
    } catch (error) {
      this.logger.debug({ err: (error as Error).message }, 'claude code not available');
      return false;
    }
  }

  /** The configured model (when it is not an alias) and the CLI's aliases. */
  async listModels(_options?: CallOptions): Promise<ModelInfo[]> {
    const names = [...CLAUDE_CODE_ALIASES];
    if (this.model !== undefined && !names.includes(this.model)) names.unshift(this.model);
    return names.map((name) => ({
      id: `${PROVIDER}/${name}`,
      provider: PROVIDER,
      name,
      capabilities: { ...CAPABILITIES },
      pricing: null,
      local: false,
    }));
  }

  /**
   * A chat answer from one CLI run. Tools, images and `format` are refused (`unsupported`): the
   * CLI takes text and runs its own tools. `think`, `options` and `keepAlive` are ignored.
   */
  async chat(request: ChatRequest, options?: CallOptions): Promise<ChatResponse> {
    const prompt = this.promptOf(request);
    const r = await this.run(prompt, request.model ?? this.model, options);
    const out: ChatResponse = {
      message: { role: 'assistant', content: r.text },
      model: r.model,
      doneReason: r.doneReason,
      usage: r.usage,
      timings: r.timings,
      processingTimeMs: r.processingTimeMs,
    };
    return out;
  }

  /**
   * Streams the answer with `--output-format stream-json --verbose`: one chunk per assistant
   * message the CLI reports (the CLI gives whole messages, not tokens), then a final chunk with
   * usage once the CLI has exited. Leaving the `for await` early stops the CLI and its group.
   */
  chatStream(request: ChatRequest, options?: CallOptions): AsyncIterable<ChatChunk> {
    // Validate now, so a refused request fails on the first next() without starting a process.
    let prompt: ClaudePrompt | undefined;
    let invalid: unknown;
    try {
      prompt = this.promptOf(request);
    } catch (error) {
      invalid = error;
    }
    const model = request.model ?? this.model;
    return {
      [Symbol.asyncIterator]: (): AsyncIterator<ChatChunk> => {
        if (prompt === undefined) {
          const error = invalid;
          return {
            next: () => Promise.reject(error),
            return: () => Promise.resolve({ value: undefined, done: true }),
          };
        }
        return this.stream(prompt, model, options);
      },
    };
  }

  // ---- Claude Code extras -----------------------------------------------------------------

  /** `claude --version`'s first line, e.g. `2.0.14 (Claude Code)`. */
  async version(options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<string> {
    const ctx = this.runContext();
    const run = this.spawn(['--version'], '', options?.timeoutMs ?? VERSION_TIMEOUT_MS, options?.signal);
    try {
      const out = (await run.collect()).toString('utf8');
      const end = await run.ended;
      if (end.kind !== 'exit') throw fromEnd(end, ctx);
      if (end.code !== 0 || end.signal !== null) throw exitError(end.code, end.signal, run.stderrLastLine(), ctx);
      const first = out.trim().split(/\r?\n/)[0] ?? '';
      if (first === '') throw exitError(0, null, run.stderrLastLine(), ctx);
      return first.trim();
    } finally {
      run.stop();
    }
  }

  /**
   * One CLI run with `--output-format json`: the answer with everything the CLI reports about it
   * (session id, cost, turns). `model` undefined leaves the CLI's default in force.
   */
  async run(prompt: ClaudePrompt, model: string | undefined, options?: CallOptions): Promise<ClaudeCodeResult> {
    const start = performance.now();
    const ctx = this.runContext();
    if (options?.signal?.aborted) throw fromEnd({ kind: 'aborted' }, ctx);
    const args = this.args('json', prompt.system, model);
    this.logger.debug({ command: this.command, model, maxTurns: this.maxTurns }, 'running claude code');
    const run = this.spawn(args, prompt.prompt, this.timeoutFor(options), options?.signal);
    let stdout: string;
    let end: CliEnd;
    try {
      stdout = (await run.collect()).toString('utf8');
      end = await run.ended;
    } finally {
      run.stop();
    }
    if (end.kind !== 'exit') throw fromEnd(end, ctx);
    const result = findResult(stdout);
    if (result === undefined) throw exitError(end.code, end.signal, run.stderrLastLine(), ctx);
    const text = resultText(result);
    if (result.subtype === 'error_max_turns') {
      // The turn limit cut the run short: what it said so far is still an answer.
      if (text.trim() === '') throw resultError(result.subtype, text, ctx);
    } else if (result.is_error === true || (result.subtype !== undefined && result.subtype !== 'success')) {
      throw resultError(result.subtype, text, ctx);
    }
    return this.toResult(result, text, model, start);
  }

  /** Stops every run in flight (their process groups are killed); the provider stays usable. */
  async close(): Promise<void> {
    const runs = [...this.runs];
    for (const run of runs) run.stop();
    await Promise.all(runs.map((run) => run.ended));
  }

  // ---- internals --------------------------------------------------------------------------

  private promptOf(request: ChatRequest): ClaudePrompt {
    if (request.tools !== undefined && request.tools.length > 0) {
      throw unsupported('tool definitions (the CLI runs its own tools)');
    }
    if (request.messages.some((m: ChatMessage) => m.images !== undefined && m.images.length > 0)) {
      throw unsupported('images');
    }
    if (request.format !== undefined) throw unsupported('a response format');
    if (request.think !== undefined || request.options !== undefined || request.keepAlive !== undefined) {
      this.logger.debug('claude code ignores think, options and keepAlive');
    }
    return renderPrompt(request.messages);
  }

  private args(format: 'json' | 'stream-json', system: string, model: string | undefined): string[] {
    const args = [...this.extraArgs, '-p', '--output-format', format];
    // The CLI refuses stream-json in print mode without --verbose.
    if (format === 'stream-json') args.push('--verbose');
    args.push('--max-turns', String(this.maxTurns));
    if (model !== undefined && model !== '') args.push('--model', model);
    if (system.trim() !== '') {
      args.push(this.systemPromptMode === 'replace' ? '--system-prompt' : '--append-system-prompt', system);
    }
    return args;
  }

  private spawn(args: string[], input: string, timeoutMs: number, signal: AbortSignal | undefined): CliRun {
    const run = new CliRun({
      command: this.command,
      args,
      input,
      timeoutMs,
      killGraceMs: this.killGraceMs,
      maxOutputBytes: this.maxOutputBytes,
      logger: this.logger,
      ...(signal === undefined ? {} : { signal }),
      ...(this.env === undefined ? {} : { env: this.env }),
      ...(this.cwd === undefined ? {} : { cwd: this.cwd }),
    });
    this.runs.add(run);
    void run.ended.then(() => this.runs.delete(run));
    return run;
  }

  private timeoutFor(options: CallOptions | undefined): number {
    const override = options?.timeouts?.requestMs;
    return typeof override === 'number' && Number.isFinite(override) && override >= 0 ? override : this.timeoutMs;
  }

  private runContext(): RunContext {
    const env = this.env ?? process.env;
    return {
      command: this.command,
      maxTurns: this.maxTurns,
      secrets: [env.ANTHROPIC_API_KEY, env.ANTHROPIC_AUTH_TOKEN, env.CLAUDE_CODE_OAUTH_TOKEN],
    };
  }

  private toResult(r: WireResult, text: string, model: string | undefined, start: number): ClaudeCodeResult {
    const out: ClaudeCodeResult = {
      text,
      model: modelOf(r, model ?? PROVIDER),
      doneReason: doneReasonOf(r),
      usage: toUsage(r.usage),
      timings: typeof r.duration_ms === 'number' ? { totalMs: r.duration_ms } : {},
      processingTimeMs: performance.now() - start,
    };
    if (typeof r.session_id === 'string') out.sessionId = r.session_id;
    if (typeof r.total_cost_usd === 'number') out.costUsd = r.total_cost_usd;
    if (typeof r.num_turns === 'number') out.numTurns = r.num_turns;
    return out;
  }

  private async *stream(
    prompt: ClaudePrompt,
    model: string | undefined,
    options: CallOptions | undefined,
  ): AsyncGenerator<ChatChunk, void, undefined> {
    const ctx = this.runContext();
    if (options?.signal?.aborted) throw fromEnd({ kind: 'aborted' }, ctx);
    const args = this.args('stream-json', prompt.system, model);
    this.logger.debug({ command: this.command, model, maxTurns: this.maxTurns }, 'streaming claude code');
    const run = this.spawn(args, prompt.prompt, this.timeoutFor(options), options?.signal);
    let text = '';
    let reported = model ?? PROVIDER;
    let result: WireResult | undefined;
    try {
      for await (const line of run.lines()) {
        const event = parseLine(line);
        if (event === undefined) {
          this.logger.debug('claude code printed a line that is not JSON; skipped');
          continue;
        }
        if (isResult(event)) {
          // Read on to the end, so the final chunk comes once the CLI is done.
          result = event;
          continue;
        }
        const type = (event as { type?: unknown }).type;
        if (type === 'system' && typeof (event as { model?: unknown }).model === 'string') {
          reported = (event as { model: string }).model;
        } else if (type === 'assistant') {
          const chunk = assistantChunk(event, text !== '');
          if (chunk === undefined) continue;
          if (chunk.model !== undefined) reported = chunk.model;
          else chunk.model = reported;
          text += chunk.content;
          yield chunk;
        }
      }
      const end = await run.ended;
      if (end.kind !== 'exit') throw fromEnd(end, ctx, text);
      if (result === undefined) throw exitError(end.code, end.signal, run.stderrLastLine(), ctx, text);
      const final = resultText(result);
      const maxTurns = result.subtype === 'error_max_turns';
      if (maxTurns) {
        if (text === '' && final.trim() === '') throw resultError(result.subtype, final, ctx);
      } else if (result.is_error === true || (result.subtype !== undefined && result.subtype !== 'success')) {
        throw resultError(result.subtype, final, ctx, text);
      }
      const r = this.toResult(result, final, reported, 0);
      const last: ChatChunk = {
        // Nothing was streamed (an older CLI, or no assistant events): the result is the answer.
        content: text === '' ? final : '',
        done: true,
        doneReason: r.doneReason,
        usage: r.usage,
        timings: r.timings,
        model: modelOf(result, reported),
      };
      yield last;
    } finally {
      run.stop();
    }
  }
}

function unsupported(what: string): ProviderError {
  return new ProviderError({
    provider: PROVIDER,
    code: 'unsupported',
    message: `The Claude Code provider cannot send ${what}; use the anthropic provider for that, or leave it out of the request.`,
  });
}

function parseLine(line: string): object | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null ? v : undefined;
  } catch {
    return undefined;
  }
}

interface WireAssistant {
  type: 'assistant';
  parent_tool_use_id?: string | null;
  message?: { model?: unknown; content?: unknown };
}

/** An `assistant` event's text and thinking as a chunk; `undefined` when it holds neither. */
function assistantChunk(event: object, afterText: boolean): ChatChunk | undefined {
  const e = event as WireAssistant;
  // A sub-agent's messages are its own business; the main thread's answer is what is asked for.
  if (typeof e.parent_tool_use_id === 'string') return undefined;
  const blocks = e.message?.content;
  if (!Array.isArray(blocks)) return undefined;
  let content = '';
  let thinking = '';
  for (const block of blocks as { type?: unknown; text?: unknown; thinking?: unknown }[]) {
    if (block?.type === 'text' && typeof block.text === 'string') content += block.text;
    else if (block?.type === 'thinking' && typeof block.thinking === 'string') thinking += block.thinking;
  }
  if (content === '' && thinking === '') return undefined;
  // Separate messages of different turns the way the CLI shows them.
  if (content !== '' && afterText) content = `\n\n${content}`;
  const chunk: ChatChunk = { content, done: false };
  if (thinking !== '') chunk.thinking = thinking;
  const model = e.message?.model;
  if (typeof model === 'string' && model !== '') chunk.model = model;
  return chunk;
}

/** {@link MessageMetadata} of a finished run. */
function metadataOf(r: ClaudeCodeResult): MessageMetadata {
  const meta: MessageMetadata = { providerUsed: PROVIDER, model: r.model, processingTimeMs: r.processingTimeMs };
  if (r.usage.totalTokens !== undefined) meta.tokensUsed = r.usage.totalTokens;
  if (r.usage.promptTokens !== undefined) meta.promptTokens = r.usage.promptTokens;
  if (r.usage.completionTokens !== undefined) meta.completionTokens = r.usage.completionTokens;
  meta.doneReason = r.doneReason;
  if (Object.keys(r.timings).length > 0) meta.timings = r.timings;
  return meta;
}
