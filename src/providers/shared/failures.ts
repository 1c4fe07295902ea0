/**
 * Failures below HTTP status (no connection, a timer, cancellation, a broken connection, an
 * unreadable answer) as {@link ProviderError}s. Written once; each provider supplies a
 * {@link FailureWording}: which service, which option to raise, what to check.
 */
import { ProviderError, redactSecrets } from '../../core/errors.js';
import type { ProviderErrorCode, TimeoutPhase } from '../../core/errors.js';
import { LineTooLongError } from '../../http/ndjson.js';
import { TransportError, formatDuration } from '../../http/errors.js';
import type { TransportErrorKind } from '../../http/errors.js';
import type { RequestContext } from './context.js';
import { errorFields, partialOf } from './context.js';

/** One provider's sentences for failures below HTTP status. */
export interface FailureWording<C extends RequestContext> {
  /** Provider name for {@link ProviderError.provider}. */
  provider: (ctx: C) => string;
  /** `The Ollama request`: the subject of the cancellation sentence. */
  request: (ctx: C) => string;
  /** `The Ollama provider`: the subject of the closed-provider sentence. */
  client: (ctx: C) => string;
  /** Nothing accepted the connection (refused, DNS, unreachable). */
  unreachable: (err: TransportError, ctx: C) => { message: string; hint?: string };
  /**
   * A phase timer expired; `d` is the limit in words (`5 s`), `option` the library option that
   * sets it (`timeouts.loadMs`), which the message names.
   */
  timeout: (phase: TimeoutPhase, d: string, ctx: C, option: string) => string;
  /** The provider's config.toml table (`provider.ollama`), for the config key of a setting. */
  configSection: (ctx: C) => string;
  connectionLost: (ctx: C) => string;
  /** The peer did not speak HTTP. */
  invalidHttp: (ctx: C) => string;
  /** The answer could not be read; `detail` says how. */
  unreadable: (detail: string, ctx: C) => string;
  /** What {@link LineTooLongError} means here: `a response line exceeded 16 bytes`. */
  tooLong: (maxLineBytes: number) => string;
}

/** A transport failure as a ProviderError in the provider's own words. */
export function transportError<C extends RequestContext>(
  err: TransportError,
  ctx: C,
  wording: FailureWording<C>,
  partialText?: string,
): ProviderError {
  const base = {
    provider: wording.provider(ctx),
    code: providerCodeFor(err.kind),
    cause: err,
    ...partialOf(partialText),
    ...errorFields(ctx),
  };
  const endpoint = `${ctx.method} ${ctx.endpoint}`;
  switch (err.kind) {
    case 'unreachable': {
      const { message, hint } = wording.unreachable(err, ctx);
      return new ProviderError({ ...base, message, ...(hint === undefined ? {} : { hint }) });
    }
    case 'timeout': {
      const phase = err.phase ?? 'request';
      const setting = { option: `timeouts.${phase}Ms`, configKey: `${wording.configSection(ctx)}.timeouts.${phase}` };
      return new ProviderError({ ...base, phase, setting, message: wording.timeout(phase, formatDuration(err.timeoutMs ?? 0), ctx, setting.option) });
    }
    case 'aborted':
      return new ProviderError({ ...base, message: `${wording.request(ctx)} (${endpoint}) was cancelled.` });
    case 'closed':
      return new ProviderError({
        ...base,
        message: `${wording.client(ctx)} was closed while ${endpoint} was in flight; create a new provider to make more calls.`,
      });
    case 'connection_lost':
      return new ProviderError({ ...base, message: wording.connectionLost(ctx) });
    case 'protocol':
      return new ProviderError({ ...base, message: wording.invalidHttp(ctx) });
  }
}

/** The provider answered something Omega cannot read. `detail` is redacted: it may quote the server. */
export function unreadableError<C extends RequestContext>(
  detail: string,
  ctx: C,
  wording: FailureWording<C>,
  cause?: unknown,
  partialText?: string,
): ProviderError {
  return new ProviderError({
    provider: wording.provider(ctx),
    code: 'protocol',
    message: wording.unreadable(redactSecrets(detail, ctx.secrets ?? []), ctx),
    cause,
    ...partialOf(partialText),
    ...errorFields(ctx),
  });
}

/** Any failure while talking to a provider, mapped; ProviderErrors and unknown errors pass through unchanged. */
export function mapFailure<C extends RequestContext>(
  error: unknown,
  ctx: C,
  wording: FailureWording<C>,
  partialText?: string,
): unknown {
  if (error instanceof ProviderError) return error;
  if (error instanceof TransportError) return transportError(error, ctx, wording, partialText);
  if (error instanceof LineTooLongError) {
    return unreadableError(wording.tooLong(error.maxLineBytes), ctx, wording, error, partialText);
  }
  return error;
}

/** The provider error code a transport failure maps to, the same for every provider. */
export function providerCodeFor(kind: TransportErrorKind): ProviderErrorCode {
  switch (kind) {
    case 'unreachable':
      return 'unavailable';
    case 'timeout':
      return 'timeout';
    case 'aborted':
    case 'closed':
      return 'aborted';
    case 'connection_lost':
      return 'connection_lost';
    case 'protocol':
      return 'protocol';
  }
}
