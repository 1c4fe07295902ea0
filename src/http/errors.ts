/**
 * Transport-level failures. They say what went wrong on the wire, not what it means for a
 * given provider: the shared provider module (`src/providers/shared/`) turns them into
 * `ProviderError`s in each provider's own words.
 */
import type { TimeoutPhase } from '../core/errors.js';

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
