/**
 * The request shapes every network provider shares on top of the transport: send and accept
 * only a 2xx, a cheap reachability probe, and reading a whole body as one JSON object. They
 * live here, not in `src/http/`, because they decide what a failure means for a provider.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { HttpRequest, HttpResponse, HttpTransport } from '../../http/transport.js';

/** How one provider turns a failed request into its error. */
export interface ResponseErrors {
  /** A transport failure (while sending, or while reading an error body). */
  failure: (error: unknown) => unknown;
  /** A non-2xx response, its body read as text. */
  status: (status: number, headers: IncomingHttpHeaders, text: string) => ProviderError;
  /** Where each mapped error response is logged at debug level, with this message. */
  logger: Logger;
  logMessage: string;
}

/**
 * Sends `req` and returns the response when its status is 2xx, for the caller to read.
 * Otherwise the error body is read as text and mapped by `errors.status` (and logged);
 * a transport failure at either step goes through `errors.failure`. Every provider shares
 * this shape: only the mappings differ.
 */
export async function requestOk(transport: HttpTransport, req: HttpRequest, errors: ResponseErrors): Promise<HttpResponse> {
  let res: HttpResponse;
  try {
    res = await transport.request(req);
  } catch (error) {
    throw errors.failure(error);
  }
  if (res.status >= 200 && res.status < 300) return res;
  let text: string;
  try {
    text = await res.body.text();
  } catch (error) {
    throw errors.failure(error);
  }
  const err = errors.status(res.status, res.headers, text);
  errors.logger.debug({ status: res.status, code: err.code, endpoint: err.endpoint }, errors.logMessage);
  throw err;
}

/** What {@link probe} needs to know about the provider it checks. */
export interface ProbeOptions {
  origin: string;
  path: string;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** The whole probe's limit. */
  timeoutMs: number;
  /** The provider's own connect limit (0 = none); the probe never waits longer than `timeoutMs`. */
  connectMs: number;
  logger: Logger;
  /** Used in the debug line written when the probe fails. */
  name: string;
}

/**
 * A cheap reachability check: GET `path` under a short limit, true on 200. Never throws,
 * because `isAvailable` must not: every failure is logged at debug level and is `false`.
 */
export async function probe(transport: HttpTransport, options: ProbeOptions): Promise<boolean> {
  const ms = options.timeoutMs;
  const connectMs = options.connectMs > 0 ? Math.min(options.connectMs, ms) : ms;
  try {
    const res = await transport.request({
      origin: options.origin,
      path: options.path,
      method: 'GET',
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      signal: options.signal,
      timeouts: { connectMs, loadMs: ms, idleMs: ms, requestMs: ms },
    });
    await res.body.bytes();
    if (res.status !== 200) options.logger.debug({ status: res.status }, `${options.name} not available`);
    return res.status === 200;
  } catch (error) {
    options.logger.debug({ err: (error as Error).message }, `${options.name} not available`);
    return false;
  }
}

/**
 * Reads a whole response body as a JSON object. A failure while reading goes through
 * `transportError`; an empty body, malformed JSON or a non-object value through `unreadable`,
 * with a short description and the parse error (which quotes the body: callers that must not
 * repeat server text drop it).
 */
export async function readJsonObject(
  res: HttpResponse,
  transportError: (error: unknown) => unknown,
  unreadable: (detail: string, cause?: unknown) => unknown,
): Promise<object> {
  let text: string;
  try {
    text = await res.body.text();
  } catch (error) {
    throw transportError(error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw unreadable(text.trim() === '' ? 'an empty body' : 'malformed JSON', cause);
  }
  if (typeof parsed !== 'object' || parsed === null) throw unreadable('not a JSON object');
  return parsed;
}
