/**
 * Transport-level failures. They say what went wrong on the wire, not what it means for a
 * given provider: each provider turns them into a {@link ProviderError} with its own wording
 * (which service, which config key to raise).
 */
import { ProviderError } from '../core/errors.js';
import type { ProviderErrorCode, TimeoutPhase } from '../core/errors.js';

/** How a request failed below HTTP semantics. */
export type TransportErrorKind =
  /** No connection could be made: refused, DNS failure, unreachable host. */
  | 'unreachable'
  /** A phase timer expired; see {@link TransportError.phase}. */
  | 'timeout'
  /** The caller's AbortSignal fired, or the caller cancelled the body. */
  | 'aborted'
  /** The transport was closed while the request was in flight. */
  | 'closed'
  /** The connection broke after it was established (reset, closed mid-body). */
  | 'connection_lost'
  /** The peer did not speak valid HTTP. */
  | 'protocol';

/** A request failed in the transport; `kind` says how. */
export class TransportError extends Error {
  /** How the request failed. */
  readonly kind: TransportErrorKind;
  /** For `timeout`: which phase expired. */
  readonly phase?: TimeoutPhase;
  /** For `timeout`: the limit that expired, in milliseconds. */
  readonly timeoutMs?: number;
  /** Origin the request went to, e.g. `http://127.0.0.1:11434`. */
  readonly origin: string;
  /** Network error code of the underlying failure (`ECONNREFUSED`, `ENOTFOUND`, ...), when known. */
  readonly errno?: string;

  constructor(
    kind: TransportErrorKind,
    message: string,
    options: { origin: string; phase?: TimeoutPhase; timeoutMs?: number; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TransportError';
    this.kind = kind;
    this.origin = options.origin;
    if (options.phase !== undefined) this.phase = options.phase;
    if (options.timeoutMs !== undefined) this.timeoutMs = options.timeoutMs;
    const code = errorCode(options.cause);
    if (code !== undefined) this.errno = code;
  }
}

/** True for a {@link TransportError}, optionally of one kind. */
export function isTransportError(error: unknown, kind?: TransportErrorKind): error is TransportError {
  return error instanceof TransportError && (kind === undefined || error.kind === kind);
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

/** The `code` property of an error-like value (Node's `ECONNREFUSED`, undici's `UND_ERR_*`). */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Node wraps happy-eyeballs failures (several addresses tried) in an AggregateError.
  const errors = (error as { errors?: unknown }).errors;
  if (Array.isArray(errors)) {
    for (const inner of errors) {
      const c = errorCode(inner);
      if (c !== undefined) return c;
    }
  }
  return undefined;
}

/** Human-readable duration for messages: `500 ms`, `5 s`, `2 min`, `1.5 h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${trim(ms / 1000)} s`;
  if (ms < 3_600_000) return `${trim(ms / 60_000)} min`;
  return `${trim(ms / 3_600_000)} h`;
}

function trim(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1).replace(/\.0$/, '');
}

/**
 * How one provider words transport failures. Cancellation and a closed provider read the same
 * for every provider; the rest names the provider's own config keys and likely causes.
 */
export interface TransportWording {
  /** Provider name for {@link ProviderError.provider}, e.g. `ollama`. */
  provider: string;
  /** The service in sentences, e.g. `Ollama`. */
  label: string;
  method: string;
  endpoint: string;
  unreachable: (err: TransportError) => { message: string; hint?: string };
  timeout: (phase: TimeoutPhase, ms: number) => string;
  connectionLost: () => string;
  protocol: () => string;
}

/** A transport failure as a {@link ProviderError}, in the provider's own words. */
export function transportProviderError(err: TransportError, wording: TransportWording, partialText?: string): ProviderError {
  const base = {
    provider: wording.provider,
    code: providerCodeFor(err.kind),
    cause: err,
    ...(partialText === undefined || partialText === '' ? {} : { partialText }),
  };
  const { label, method, endpoint } = wording;
  switch (err.kind) {
    case 'unreachable': {
      const { message, hint } = wording.unreachable(err);
      return new ProviderError({ ...base, message, ...(hint === undefined ? {} : { hint }) });
    }
    case 'timeout': {
      const phase = err.phase ?? 'request';
      return new ProviderError({ ...base, phase, message: wording.timeout(phase, err.timeoutMs ?? 0) });
    }
    case 'aborted':
      return new ProviderError({ ...base, message: `The ${label} request (${method} ${endpoint}) was cancelled.` });
    case 'closed':
      return new ProviderError({
        ...base,
        message: `The ${label} provider was closed while ${method} ${endpoint} was in flight; create a new provider to make more calls.`,
      });
    case 'connection_lost':
      return new ProviderError({ ...base, message: wording.connectionLost() });
    case 'protocol':
      return new ProviderError({ ...base, message: wording.protocol() });
  }
}
