/**
 * Anthropic's part of error mapping: how its bodies look (`{"type":"error","error":{"type",
 * "message"}}`, which is also what an `error` event in a stream carries), one actionable
 * sentence per outcome, and its own cases (`rate_limit_error`, `overloaded_error`/529, a 504).
 * The status ladder and transport failures are the shared ones in `../shared/`.
 *
 * Every text that came from the server is redacted with the key before it is shortened.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ProviderError, redactSecrets } from '../../core/errors.js';
import { formatDuration } from '../../http/errors.js';
import type { TransportError } from '../../http/errors.js';
import { redactAndShorten, sentence } from '../shared/body.js';
import type { BodyReading } from '../shared/body.js';
import type { RequestContext } from '../shared/context.js';
import { errorFields, partialOf } from '../shared/context.js';
import { mapFailure, transportError, unreadableError } from '../shared/failures.js';
import type { FailureWording } from '../shared/failures.js';
import { httpError } from '../shared/http-errors.js';
import type { HttpErrorFacts, HttpErrorOutcome, HttpErrorTable } from '../shared/http-errors.js';
import type { WireError } from './types.js';
import { PROVIDER } from './wire.js';

/** What a request was about, for wording errors. */
export interface ErrorContext extends RequestContext {
  /** Values that must never appear in a message (the API key). */
  secrets: readonly string[];
}

const KEY_ADVICE = 'set ANTHROPIC_API_KEY or provider.anthropic.api_key to a valid key';
const MAX_CHARS = 300;

function clean(text: string, ctx: Pick<ErrorContext, 'secrets'>): string {
  return redactAndShorten(text, (t) => redactSecrets(t, ctx.secrets), MAX_CHARS);
}

function reading(ctx: ErrorContext): BodyReading {
  return {
    fromJson: (value) => {
      if (typeof value !== 'object' || value === null) return undefined;
      const parsed = value as { error?: unknown; message?: unknown };
      const e = parsed.error;
      if (typeof e === 'object' && e !== null) {
        const w = e as WireError;
        return { message: typeof w.message === 'string' ? w.message : '', ...(typeof w.type === 'string' ? { type: w.type } : {}) };
      }
      if (typeof e === 'string') return { message: e };
      if (typeof parsed.message === 'string') return { message: parsed.message };
      return undefined;
    },
    redact: (text) => redactSecrets(text, ctx.secrets),
    maxChars: MAX_CHARS,
    shortenJson: true,
  };
}

function rateLimited(f: HttpErrorFacts): string {
  const wait = f.retryAfterMs;
  return `Anthropic is rate-limiting requests (${f.shown}); wait${wait === undefined ? '' : ` ${formatDuration(wait)}`} and try again.`;
}

/** Anthropic's own cases, tried before the shared ladder: its error types decide over the status. */
function special(f: HttpErrorFacts, ctx: ErrorContext): HttpErrorOutcome | undefined {
  const { status, body } = f;
  if (status === 401 || status === 403) return undefined;
  if (status === 429 || body.type === 'rate_limit_error') {
    return { code: 'rate_limited', message: rateLimited(f), ...(f.retryAfterMs === undefined ? {} : { retryAfterMs: f.retryAfterMs }) };
  }
  if (status === 529 || body.type === 'overloaded_error') {
    return { code: 'busy', message: `Anthropic is overloaded (${f.shown}); try again in a moment.` };
  }
  if (status === 404 && body.type === 'not_found_error' && ctx.model !== undefined && /\bmodel\b/i.test(body.message)) {
    return {
      code: 'model_not_found',
      message: `Model '${ctx.model}' is not available at Anthropic (${f.shown}); check the model name or provider.anthropic.model (\`omega models\` lists them).`,
    };
  }
  if (status === 504) return { code: 'timeout', message: timedOut(f) };
  return undefined;
}

function timedOut(f: HttpErrorFacts): string {
  return `Anthropic timed out answering the request (${f.shown}); try again, or stream the answer.`;
}

const TABLE: HttpErrorTable<ErrorContext> = {
  provider: () => PROVIDER,
  label: () => 'Anthropic',
  reading,
  special,
  redirect: (f, ctx) =>
    `Anthropic at ${ctx.baseUrl} redirected ${ctx.endpoint} (HTTP ${f.status}${f.location ? ` to ${f.location}` : ''}); set provider.anthropic.base_url to the final address.`,
  auth: (f) =>
    f.status === 401
      ? `Anthropic rejected the API key (${f.shown}); ${KEY_ADVICE}.`
      : `Anthropic refused the request (${f.shown}); check that the key in ANTHROPIC_API_KEY (or provider.anthropic.api_key) is allowed to use this model.`,
  noEndpoint: (f, ctx) =>
    `Anthropic at ${ctx.baseUrl} has no ${ctx.method} ${ctx.endpoint} (${f.shown}); check that provider.anthropic.base_url points at the Messages API, such as https://api.anthropic.com.`,
  timeout: timedOut,
  tooLarge: (f) => `Anthropic refused the request as too large (${f.shown}); send less history or smaller images.`,
  rateLimited,
  serverError: (f) => `Anthropic failed (${f.shown}); try again later.`,
  rejected: (f) => `Anthropic rejected the request: ${sentence(f.body.message === '' ? `HTTP ${f.status}` : f.body.message)}`,
};

/** A non-2xx response as a ProviderError. */
export function fromHttpStatus(status: number, headers: IncomingHttpHeaders, body: string, ctx: ErrorContext): ProviderError {
  return httpError(status, headers, body, ctx, TABLE);
}

/** An `error` event inside a 200 stream. */
export function fromStreamError(error: unknown, ctx: ErrorContext, partialText: string): ProviderError {
  const w = (typeof error === 'object' && error !== null ? error : {}) as WireError;
  const type = typeof w.type === 'string' ? w.type : 'api_error';
  const detail = clean(typeof w.message === 'string' ? w.message : type, ctx);
  const base = { provider: PROVIDER, providerMessage: detail, ...partialOf(partialText), ...errorFields(ctx) };
  switch (type) {
    case 'overloaded_error':
      return new ProviderError({ ...base, code: 'busy', message: `Anthropic is overloaded (${detail}); try again in a moment.` });
    case 'rate_limit_error':
      return new ProviderError({ ...base, code: 'rate_limited', message: `Anthropic is rate-limiting requests (${detail}); wait and try again.` });
    case 'authentication_error':
    case 'permission_error':
      return new ProviderError({ ...base, code: 'auth', message: `Anthropic refused the request mid-stream (${detail}); ${KEY_ADVICE}.` });
    case 'invalid_request_error':
    case 'request_too_large':
      return new ProviderError({ ...base, code: 'bad_request', message: `Anthropic rejected the request: ${sentence(detail)}` });
    case 'not_found_error':
      return new ProviderError({
        ...base,
        code: ctx.model === undefined ? 'bad_request' : 'model_not_found',
        message: `Anthropic reported ${detail} mid-stream; check the model name or provider.anthropic.model.`,
      });
    default:
      return new ProviderError({ ...base, code: 'server_error', message: `Anthropic failed mid-response (${type}: ${detail}); try again.` });
  }
}

const WORDING: FailureWording<ErrorContext> = {
  provider: () => PROVIDER,
  request: () => 'The Anthropic request',
  client: () => 'The Anthropic provider',
  unreachable: (e, ctx) => ({
    message: `Could not connect to Anthropic at ${ctx.baseUrl}${e.errno === undefined ? '' : ` (${e.errno})`}; check the network connection or provider.anthropic.base_url.`,
  }),
  timeout: (phase, d, ctx, option) => {
    switch (phase) {
      case 'connect':
        return `Could not connect to Anthropic at ${ctx.baseUrl} within ${d}; check the network or raise ${option}.`;
      case 'load':
        if (ctx.streamed === false) {
          return `Anthropic did not answer within ${d}; a long answer takes longer than that unstreamed, so raise ${option} or stream the answer.`;
        }
        return `Anthropic did not start answering within ${d}; raise ${option}.`;
      case 'idle':
        return `Anthropic sent nothing for ${d} in the middle of a response; raise ${option} if that is expected.`;
      default:
        return `The Anthropic request took longer than ${d}; raise ${option} (0 means no limit).`;
    }
  },
  configSection: () => 'provider.anthropic',
  connectionLost: (ctx) => `The connection to Anthropic at ${ctx.baseUrl} was lost mid-response; try again.`,
  invalidHttp: (ctx) =>
    `The server at ${ctx.baseUrl} did not answer with valid HTTP; check that provider.anthropic.base_url points at the Messages API.`,
  unreadable: (detail, ctx) =>
    `Anthropic at ${ctx.baseUrl} sent an unreadable response to ${ctx.method} ${ctx.endpoint} (${detail}); check that provider.anthropic.base_url points at the Messages API.`,
  tooLong: (max) => `an event exceeded ${max} bytes`,
};

/** A transport failure (no connection, timeout, cancellation, broken connection) as a ProviderError. */
export function fromTransport(err: TransportError, ctx: ErrorContext, partialText?: string): ProviderError {
  return transportError(err, ctx, WORDING, partialText);
}

/** Anthropic answered something Omega cannot read. */
export function protocolError(detail: string, ctx: ErrorContext, cause?: unknown, partialText?: string): ProviderError {
  return unreadableError(detail, ctx, WORDING, cause, partialText);
}

/** Any failure while talking to Anthropic, mapped; ProviderErrors pass through unchanged. */
export function toProviderError(error: unknown, ctx: ErrorContext, partialText?: string): unknown {
  return mapFailure(error, ctx, WORDING, partialText);
}
