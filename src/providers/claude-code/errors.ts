/**
 * The Claude Code CLI's failures as {@link ProviderError}s with one actionable sentence each.
 * Text taken from the CLI (stderr, an error result) is redacted and shortened first: it can
 * echo an environment or a key.
 */
import { ProviderError, redactSecrets } from '../../core/errors.js';
import type { ProviderErrorCode } from '../../core/errors.js';
import { formatDuration } from '../../http/errors.js';
import type { CliEnd } from './process.js';
import { PROVIDER } from './wire.js';

/** What a run was about, for wording errors. */
export interface RunContext {
  /** The executable as configured. */
  command: string;
  maxTurns: number;
  /** Values that must never appear in a message (keys in the child's environment). */
  secrets: readonly (string | undefined)[];
}

const INSTALL = 'Install it with `npm install -g @anthropic-ai/claude-code` or set provider.claude-code.command.';
const MAX_DETAIL = 300;

/** CLI output made safe for a message: secrets removed, one line, bounded length. */
export function cleanDetail(text: string, secrets: readonly (string | undefined)[]): string {
  const one = redactSecrets(text, secrets).replace(/\s+/g, ' ').trim();
  return one.length > MAX_DETAIL ? `${one.slice(0, MAX_DETAIL - 3)}...` : one;
}

function stripStop(text: string): string {
  return text.replace(/[.\s]+$/, '');
}

/** The error for a run that did not finish on its own: not started, timed out, cancelled, too much output. */
export function fromEnd(end: CliEnd, ctx: RunContext, partialText?: string): ProviderError {
  const partial = partialText === undefined || partialText === '' ? {} : { partialText };
  switch (end.kind) {
    case 'spawn_error': {
      const code = end.error.code;
      if (code === 'ENOENT') {
        return new ProviderError({
          provider: PROVIDER,
          code: 'unavailable',
          message: `Claude Code CLI not found at ${ctx.command}. ${INSTALL}`,
          cause: end.error,
        });
      }
      if (code === 'EACCES' || code === 'EPERM') {
        return new ProviderError({
          provider: PROVIDER,
          code: 'unavailable',
          message: `Claude Code CLI at ${ctx.command} cannot be run (permission denied); make it executable or set provider.claude-code.command.`,
          cause: end.error,
        });
      }
      return new ProviderError({
        provider: PROVIDER,
        code: 'unavailable',
        message: `Claude Code CLI at ${ctx.command} could not be started (${code ?? end.error.message}); check provider.claude-code.command.`,
        cause: end.error,
      });
    }
    case 'timeout':
      return new ProviderError({
        provider: PROVIDER,
        code: 'timeout',
        phase: 'request',
        message: `Claude Code did not finish within ${formatDuration(end.timeoutMs)} and was stopped; raise provider.claude-code.timeout_secs (0 turns the limit off).`,
        ...partial,
      });
    case 'aborted':
      return new ProviderError({
        provider: PROVIDER,
        code: 'aborted',
        message: 'The Claude Code run was cancelled and the CLI stopped.',
        ...partial,
      });
    case 'output_limit':
      return new ProviderError({
        provider: PROVIDER,
        code: 'protocol',
        message: `Claude Code wrote more than ${end.maxOutputBytes} bytes of output and was stopped; check that provider.claude-code.command is the Claude Code CLI.`,
        ...partial,
      });
    case 'exit':
      return exitError(end.code, end.signal, '', ctx, partialText);
  }
}

/** A run that exited without a readable result. `stderrLine` is the last line of its stderr. */
export function exitError(
  code: number | null,
  signal: NodeJS.Signals | null,
  stderrLine: string,
  ctx: RunContext,
  partialText?: string,
): ProviderError {
  const detail = cleanDetail(stderrLine, ctx.secrets);
  const partial = partialText === undefined || partialText === '' ? {} : { partialText };
  const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code ?? 'unknown'}`;
  if (code === 0 && signal === null) {
    return new ProviderError({
      provider: PROVIDER,
      code: 'protocol',
      message: `Claude Code printed no result${detail === '' ? '' : ` (${stripStop(detail)})`}; check that provider.claude-code.command is the Claude Code CLI and that it is up to date.`,
      ...partial,
    });
  }
  const classified = classify(detail);
  return new ProviderError({
    provider: PROVIDER,
    code: classified.code,
    message: `Claude Code ${how}${detail === '' ? '' : `: ${stripStop(detail)}`}; ${classified.advice}`,
    ...(detail === '' ? {} : { providerMessage: detail }),
    ...partial,
  });
}

/** An error `result` object (`is_error: true`, or a subtype other than success). */
export function resultError(subtype: string | undefined, text: string, ctx: RunContext, partialText?: string): ProviderError {
  const detail = cleanDetail(text, ctx.secrets);
  const partial = partialText === undefined || partialText === '' ? {} : { partialText };
  if (subtype === 'error_max_turns') {
    return new ProviderError({
      provider: PROVIDER,
      code: 'server_error',
      message: `Claude Code used all ${ctx.maxTurns} turn${ctx.maxTurns === 1 ? '' : 's'} it was allowed without producing an answer; raise provider.claude-code.max_turns.`,
      ...partial,
    });
  }
  const classified = classify(detail);
  const what = detail === '' ? `Claude Code failed (${subtype ?? 'error'})` : `Claude Code failed: ${stripStop(detail)}`;
  return new ProviderError({
    provider: PROVIDER,
    code: classified.code,
    message: `${what}; ${classified.advice}`,
    ...(detail === '' ? {} : { providerMessage: detail }),
    ...partial,
  });
}

/** The code and advice a CLI error text calls for. */
function classify(text: string): { code: ProviderErrorCode; advice: string } {
  if (/invalid api key|\/login|not logged in|authenticat|unauthori[sz]ed|oauth token/i.test(text)) {
    return { code: 'auth', advice: 'run `claude` once to log in, or set ANTHROPIC_API_KEY for it.' };
  }
  if (/rate.?limit|usage limit|\b429\b/i.test(text)) {
    return { code: 'rate_limited', advice: 'wait and try again.' };
  }
  if (/overloaded|\b529\b/i.test(text)) {
    return { code: 'busy', advice: 'try again in a moment.' };
  }
  return { code: 'server_error', advice: 'run the same prompt with `claude -p` to see the full error.' };
}
