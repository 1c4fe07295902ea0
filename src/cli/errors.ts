/**
 * How the CLI turns failures into one line on stderr and an exit code.
 */
import { CommanderError } from 'commander';
import { ConfigError, OmegaError, ProviderError, UsageError, redactSecrets } from '../core/errors.js';
import { notRunningStep } from '../providers/ollama/index.js';

/** Exit codes of `omega`. */
export const EXIT = {
  ok: 0,
  /** A runtime failure: provider down, model missing, memory error... */
  error: 1,
  /** Bad arguments or bad configuration. */
  usage: 2,
  /** Cancelled with Ctrl-C (128 + SIGINT). */
  interrupted: 130,
} as const;

/** Thrown when the user pressed Ctrl-C; the CLI exits 130 without an error message. */
export class InterruptedError extends Error {
  constructor() {
    super('Interrupted.');
    this.name = 'InterruptedError';
  }
}

/** The exit code for `error`. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof InterruptedError) return EXIT.interrupted;
  if (error instanceof CommanderError) {
    // Help and version "errors" carry exit code 0; every real commander error is a usage error.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof UsageError || error instanceof ConfigError) return EXIT.usage;
  return EXIT.error;
}

/** Where in the config a {@link ConfigError} or warning points, for what its message leaves out. */
export function configLocation(message: string, where: { file?: string; line?: number; key?: string }): string {
  const parts: string[] = [];
  if (where.file !== undefined && !message.includes(where.file)) {
    parts.push(where.line !== undefined ? `${where.file}:${where.line}` : where.file);
  } else if (where.line !== undefined && !/\bline \d+/.test(message) && !message.includes(`:${where.line}`)) {
    parts.push(`line ${where.line}`);
  }
  if (where.key !== undefined && !message.includes(where.key)) parts.push(`key ${where.key}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** `text` ending in a full stop (or the `!`/`?` it already has). */
export function withPeriod(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/**
 * A hint the CLI knows for a provider failure whose error carries none: how to start
 * Ollama, or how to get a missing model. Reads the error's fields, never its message.
 */
function fallbackHint(error: ProviderError): string | undefined {
  if (error.provider !== 'ollama') return undefined;
  // Ollama's own "cannot reach the registry" carries a hint, so `unavailable` here means Ollama itself.
  if (error.code === 'unavailable') return notRunningStep(error.baseUrlSource);
  // A pull of a name the registry does not know: pulling again is no advice.
  if (error.code === 'model_not_found' && error.endpoint !== 'POST /api/pull') {
    return error.model !== undefined && error.model !== ''
      ? `Run \`ollama pull ${error.model}\`.`
      : 'Pull it with `ollama pull <model>`; `omega models` lists what is installed.';
  }
  return undefined;
}

/**
 * The one line (without `omega: ` or newline) that describes `error` to a person:
 * the message, where it is in the config, and what to do. The error's hint is added
 * unless the message already names a command to run (`ollama serve`), so the line stays
 * short; `verbose` always adds it.
 */
export function describeError(error: unknown, verbose = false): string {
  if (error instanceof CommanderError) return withPeriod(error.message.replace(/^error:\s*/i, '').replace(/\s*\n\s*/g, ' '));
  if (!(error instanceof Error)) return String(error);
  let text = withPeriod(error.message.replace(/\s*\n\s*/g, ' '));
  if (error instanceof ConfigError) {
    text = withPeriod(error.message.replace(/\s*\n\s*/g, ' ').replace(/\.$/, '') + configLocation(error.message, error));
    if (error.expected !== undefined && !text.includes(error.expected)) text += ` Expected ${withPeriod(error.expected)}`;
  }
  // The library names its option (timeouts.loadMs); a CLI user sets the config key instead.
  if (error instanceof ProviderError && error.setting !== undefined && !text.includes(error.setting.configKey)) {
    text += ` In config.toml that is ${error.setting.configKey}.`;
  }
  let hint = error instanceof OmegaError ? error.hint : undefined;
  if (hint === undefined && error instanceof ProviderError) hint = fallbackHint(error);
  const saysWhatToDo = /`[^`]+`/.test(text);
  if (hint !== undefined && !text.includes(hint.trim()) && (verbose || !saysWhatToDo)) text += ` ${withPeriod(hint)}`;
  return text;
}

/** `error`'s stack and the chain of causes, for `--verbose`. */
export function describeStack(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    if (current instanceof Error) {
      lines.push(depth === 0 ? (current.stack ?? current.message) : `Caused by: ${current.stack ?? current.message}`);
      current = current.cause;
    } else {
      lines.push(`Caused by: ${String(current)}`);
      break;
    }
  }
  return lines.join('\n');
}

/** Removes every secret in `secrets` (and anything that looks like a key) from `text`. */
export function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  return redactSecrets(text, secrets);
}
