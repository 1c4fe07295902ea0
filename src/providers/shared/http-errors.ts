/**
 * The one HTTP status ladder: a non-2xx response becomes a {@link ProviderError}. The ladder
 * (which status means which code, how `Retry-After` is read, how a body is summarised and
 * redacted) is written here once; a provider contributes an {@link HttpErrorTable}: how its
 * bodies look, one sentence per outcome, and its own special cases, tried first.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ProviderError } from '../../core/errors.js';
import type { ProviderErrorCode } from '../../core/errors.js';
import { retryAfterMs } from '../../http/retry-after.js';
import type { BodyReading, ErrorBody } from './body.js';
import { headerValue, readErrorBody } from './body.js';
import type { RequestContext } from './context.js';
import { errorFields } from './context.js';

/** What the ladder learned about a response, handed to every wording function. */
export interface HttpErrorFacts {
  status: number;
  headers: IncomingHttpHeaders;
  body: ErrorBody;
  /** `HTTP 500`, or `HTTP 500: <detail>` when the body said something. */
  shown: string;
  /** The wait the server asked for (`retry-after-ms` or `Retry-After`), when it asked. */
  retryAfterMs?: number;
  /** The `Location` of a redirect. */
  location?: string;
}

/** An outcome decided by a provider's special case. */
export interface HttpErrorOutcome {
  code: ProviderErrorCode;
  message: string;
  hint?: string;
  retryAfterMs?: number;
}

/** One provider's part of the ladder: data and sentences, no control flow of its own. */
export interface HttpErrorTable<C extends RequestContext> {
  /** Provider name for {@link ProviderError.provider}. */
  provider: (ctx: C) => string;
  /** The service in sentences, e.g. `Ollama`. */
  label: (ctx: C) => string;
  /** How the provider's error bodies are read. */
  reading: (ctx: C) => BodyReading;
  /** Cases only this provider has, tried before the ladder; `undefined` lets the ladder decide. */
  special?: (f: HttpErrorFacts, ctx: C) => HttpErrorOutcome | undefined;
  /** 3xx: the base URL points at a redirect. */
  redirect: (f: HttpErrorFacts, ctx: C) => string;
  /** 401 and 403. */
  auth: (f: HttpErrorFacts, ctx: C) => string;
  /** 404 and 405 that no special case claimed: the endpoint does not exist there. */
  noEndpoint: (f: HttpErrorFacts, ctx: C) => string;
  /** 408; a generic sentence when left out. */
  timeout?: (f: HttpErrorFacts, ctx: C) => string;
  /** 413; {@link rejected}'s sentence when left out. */
  tooLarge?: (f: HttpErrorFacts, ctx: C) => string;
  /** 429. */
  rateLimited: (f: HttpErrorFacts, ctx: C) => string;
  /** 5xx. */
  serverError: (f: HttpErrorFacts, ctx: C) => string;
  /** Any other status. */
  rejected: (f: HttpErrorFacts, ctx: C) => string;
}

/** A non-2xx response as a {@link ProviderError}, worded by `table`. */
export function httpError<C extends RequestContext>(
  status: number,
  headers: IncomingHttpHeaders,
  text: string,
  ctx: C,
  table: HttpErrorTable<C>,
): ProviderError {
  const body = readErrorBody(text, headerValue(headers, 'content-type'), table.reading(ctx));
  const f: HttpErrorFacts = { status, headers, body, shown: body.message === '' ? `HTTP ${status}` : `HTTP ${status}: ${body.message}` };
  const wait = retryAfterMs(headers);
  if (wait !== undefined) f.retryAfterMs = wait;
  const location = headerValue(headers, 'location');
  if (location !== undefined) f.location = location;
  const outcome = table.special?.(f, ctx) ?? ladder(f, ctx, table);
  return new ProviderError({
    provider: table.provider(ctx),
    code: outcome.code,
    status,
    message: outcome.message,
    ...(body.message === '' ? {} : { providerMessage: body.message }),
    ...(outcome.hint === undefined ? {} : { hint: outcome.hint }),
    ...(outcome.retryAfterMs === undefined ? {} : { retryAfterMs: outcome.retryAfterMs }),
    ...errorFields(ctx),
  });
}

function ladder<C extends RequestContext>(f: HttpErrorFacts, ctx: C, table: HttpErrorTable<C>): HttpErrorOutcome {
  const s = f.status;
  if (s >= 300 && s < 400) return { code: 'protocol', message: table.redirect(f, ctx) };
  if (s === 401 || s === 403) return { code: 'auth', message: table.auth(f, ctx) };
  if (s === 404 || s === 405) return { code: 'protocol', message: table.noEndpoint(f, ctx) };
  if (s === 408) {
    const message = table.timeout?.(f, ctx) ?? `${table.label(ctx)} timed out answering the request (${f.shown}); try again.`;
    return { code: 'timeout', message };
  }
  if (s === 413) return { code: 'bad_request', message: (table.tooLarge ?? table.rejected)(f, ctx) };
  if (s === 429) {
    return { code: 'rate_limited', message: table.rateLimited(f, ctx), ...(f.retryAfterMs === undefined ? {} : { retryAfterMs: f.retryAfterMs }) };
  }
  if (s >= 500) return { code: 'server_error', message: table.serverError(f, ctx) };
  return { code: 'bad_request', message: table.rejected(f, ctx) };
}
