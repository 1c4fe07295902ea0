/**
 * What a client of `omega serve` sees when something fails: one table from Omega's error
 * codes to HTTP statuses, shared by the three front ends, and each front end's own error body.
 * docs/server.md reproduces {@link STATUS_BY_CODE}; a test keeps the two in step.
 */
import { ConfigError, MemoryError, ProviderError, UsageError, redactSecrets } from '../core/errors.js';
import type { ProviderErrorCode } from '../core/errors.js';

/** The protocol a request arrived in; it decides the shape of errors. */
export type FrontEnd = 'ollama' | 'openai' | 'anthropic' | 'meta';

/**
 * HTTP status for each {@link ProviderErrorCode}. Upstream failures that are not the client's
 * doing are 502/503/504, so that a client never mistakes an upstream key problem (`auth`) for
 * its own token being refused (401).
 */
export const STATUS_BY_CODE: Readonly<Record<ProviderErrorCode, number>> = Object.freeze({
  bad_request: 400,
  unsupported: 400,
  // The client's prompt does not fit the model's window: the client can shorten it.
  context_overflow: 400,
  model_not_found: 404,
  rate_limited: 429,
  aborted: 499,
  auth: 502,
  server_error: 502,
  protocol: 502,
  connection_lost: 502,
  unavailable: 503,
  busy: 503,
  timeout: 504,
});

/** An error the server raises itself (bad request body, unknown model, ...) with its status. */
export class HttpError extends Error {
  constructor(
    /** HTTP status to answer with. */
    readonly status: number,
    message: string,
    /** Machine-readable code, e.g. `model_not_found`, `invalid_json`, `body_too_large`. */
    readonly code: string,
    /** The request field at fault, for OpenAI's `param`. */
    readonly param?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Status, code and message of any error, as the client will see it. */
export interface ClientError {
  status: number;
  code: string;
  message: string;
  param?: string;
  retryAfterMs?: number;
}

/**
 * Maps any thrown value to what the client sees; never leaks a secret or a stack. On the Ollama
 * front end an error the Ollama server answered keeps Ollama's own status and words, as its
 * clients expect; everything else follows {@link STATUS_BY_CODE}.
 */
export function clientError(error: unknown, frontEnd?: FrontEnd): ClientError {
  if (error instanceof HttpError) {
    const out: ClientError = { status: error.status, code: error.code, message: error.message };
    if (error.param !== undefined) out.param = error.param;
    return out;
  }
  if (error instanceof ProviderError) {
    // Ollama's clients get an error Ollama itself answered as Ollama sent it: its status, its words.
    const fromOllama = frontEnd === 'ollama' && error.provider === 'ollama';
    const own = fromOllama && error.providerMessage !== undefined && error.providerMessage !== '';
    const status = fromOllama && error.status !== undefined && error.status >= 400 ? error.status : STATUS_BY_CODE[error.code];
    const out: ClientError = { status, code: error.code, message: redactSecrets(own ? (error.providerMessage as string) : error.message) };
    if (error.retryAfterMs !== undefined) out.retryAfterMs = error.retryAfterMs;
    return out;
  }
  // The request named a provider that is unknown or disabled here: for the client, no such model.
  if (error instanceof ConfigError) return { status: 404, code: 'model_not_found', message: redactSecrets(error.message) };
  if (error instanceof UsageError) return { status: 400, code: 'bad_request', message: redactSecrets(error.message) };
  if (error instanceof MemoryError) return { status: 500, code: 'memory', message: redactSecrets(error.message) };
  return { status: 500, code: 'internal', message: 'Internal error in omega serve; see its log.' };
}

/** OpenAI's error `type` for a status. */
export function openaiErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/** Anthropic's error `type` for a status. */
export function anthropicErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 503) return 'overloaded_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/** The JSON body of an error in `frontEnd`'s shape. */
export function errorBody(frontEnd: FrontEnd, e: ClientError): unknown {
  switch (frontEnd) {
    case 'openai':
      return { error: { message: e.message, type: openaiErrorType(e.status), param: e.param ?? null, code: e.code } };
    case 'anthropic':
      return { type: 'error', error: { type: anthropicErrorType(e.status), message: e.message } };
    default:
      return { error: e.message };
  }
}
