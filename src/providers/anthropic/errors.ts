/**
 * Anthropic's failures as {@link ProviderError}s with one actionable sentence each. Detection
 * goes by HTTP status and by the error `type` of the body (`{"type":"error","error":{"type",
 * "message"}}`), which is also what an `error` event in a stream carries.
 *
 * Every text that came from the server passes through {@link redactSecrets} with the key.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ProviderError, redactSecrets } from '../../core/errors.js';
import type { ProviderErrorCode } from '../../core/errors.js';
import { LineTooLongError } from '../../http/ndjson.js';
import { TransportError, formatDuration, transportProviderError } from '../../http/errors.js';
import { retryAfterMs } from '../../http/retry-after.js';
import type { WireError } from './types.js';
import { PROVIDER } from './wire.js';

/** What a request was about, for wording errors. */
export interface ErrorContext {
  baseUrl: string;
  method: string;
  /** Path below the base URL, e.g. `/v1/messages`. */
  endpoint: string;
  /** The model the request named, if any. */
  model?: string;
  /** False for a non-streamed call, where the load phase also covers generating the answer. */
  streamed?: boolean;
  /** Values that must never appear in a message (the API key). */
  secrets: readonly string[];
}

const KEY_ADVICE = 'set ANTHROPIC_API_KEY or provider.anthropic.api_key to a valid key';

function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function clean(text: string, ctx: Pick<ErrorContext, 'secrets'>): string {
  const one = redactSecrets(text, ctx.secrets).replace(/\s+/g, ' ').trim();
  return one.length > 300 ? `${one.slice(0, 297)}...` : one;
}

/** The error object of a body, redacted; `json` false when the body was not one. */
export function errorOfBody(body: string, contentType: string | undefined, ctx: Pick<ErrorContext, 'secrets'>): {
  type?: string;
  message: string;
  json: boolean;
} {
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as { error?: unknown; message?: unknown };
      const e = parsed.error;
      if (typeof e === 'object' && e !== null) {
        const w = e as WireError;
        const out: { type?: string; message: string; json: boolean } = {
          message: clean(typeof w.message === 'string' ? w.message : '', ctx),
          json: true,
        };
        if (typeof w.type === 'string') out.type = w.type;
        return out;
      }
      if (typeof e === 'string') return { message: clean(e, ctx), json: true };
      if (typeof parsed.message === 'string') return { message: clean(parsed.message, ctx), json: true };
    } catch {
      // not JSON after all
    }
  }
  let text = trimmed;
  if (/html/i.test(contentType ?? '') || /^\s*<(!doctype|html|head|body)/i.test(text)) {
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(text);
    text = title?.[1] !== undefined && title[1].trim() !== '' ? title[1] : text.replace(/<[^>]*>/g, ' ');
  }
  return { message: clean(text, ctx), json: false };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A non-2xx response as a ProviderError. */
export function fromHttpStatus(
  status: number,
  headers: IncomingHttpHeaders,
  body: string,
  ctx: ErrorContext,
): ProviderError {
  const err = errorOfBody(body, header(headers, 'content-type'), ctx);
  const detail = err.message;
  const shown = detail === '' ? `HTTP ${status}` : `HTTP ${status}: ${detail}`;
  const make = (code: ProviderErrorCode, message: string, extra?: { retryAfterMs?: number }) =>
    new ProviderError({
      provider: PROVIDER,
      code,
      status,
      message,
      ...(detail === '' ? {} : { providerMessage: detail }),
      ...extra,
    });

  if (status === 401) return make('auth', `Anthropic rejected the API key (${shown}); ${KEY_ADVICE}.`);
  if (status === 403) {
    return make(
      'auth',
      `Anthropic refused the request (${shown}); check that the key in ANTHROPIC_API_KEY (or provider.anthropic.api_key) is allowed to use this model.`,
    );
  }
  if (status === 429 || err.type === 'rate_limit_error') {
    const wait = retryAfterMs(headers);
    return make(
      'rate_limited',
      `Anthropic is rate-limiting requests (${shown}); wait${wait === undefined ? '' : ` ${formatDuration(wait)}`} and try again.`,
      wait === undefined ? undefined : { retryAfterMs: wait },
    );
  }
  if (status === 529 || err.type === 'overloaded_error') {
    return make('busy', `Anthropic is overloaded (${shown}); try again in a moment.`);
  }
  if (status === 404 && err.type === 'not_found_error' && ctx.model !== undefined && /\bmodel\b/i.test(detail)) {
    return make(
      'model_not_found',
      `Model '${ctx.model}' is not available at Anthropic (${shown}); check the model name or provider.anthropic.model (\`omega models\` lists them).`,
    );
  }
  if (status === 404 || status === 405) {
    return make(
      'protocol',
      `Anthropic at ${ctx.baseUrl} has no ${ctx.method} ${ctx.endpoint} (${shown}); check that provider.anthropic.base_url points at the Messages API, such as https://api.anthropic.com.`,
    );
  }
  if (status >= 300 && status < 400) {
    const location = header(headers, 'location');
    return make(
      'protocol',
      `Anthropic at ${ctx.baseUrl} redirected ${ctx.endpoint} (HTTP ${status}${location ? ` to ${location}` : ''}); set provider.anthropic.base_url to the final address.`,
    );
  }
  if (status === 408 || status === 504) {
    return make('timeout', `Anthropic timed out answering the request (${shown}); try again, or stream the answer.`);
  }
  if (status >= 500) return make('server_error', `Anthropic failed (${shown}); try again later.`);
  if (status === 413) {
    return make('bad_request', `Anthropic refused the request as too large (${shown}); send less history or smaller images.`);
  }
  return make('bad_request', `Anthropic rejected the request: ${sentence(detail === '' ? `HTTP ${status}` : detail)}`);
}

/** An `error` event inside a 200 stream. */
export function fromStreamError(error: unknown, ctx: ErrorContext, partialText: string): ProviderError {
  const w = (typeof error === 'object' && error !== null ? error : {}) as WireError;
  const type = typeof w.type === 'string' ? w.type : 'api_error';
  const detail = clean(typeof w.message === 'string' ? w.message : type, ctx);
  const partial = partialText === '' ? {} : { partialText };
  const base = { provider: PROVIDER, providerMessage: detail, ...partial };
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

/** A transport failure (no connection, timeout, cancellation, broken connection) as a ProviderError. */
export function fromTransport(err: TransportError, ctx: ErrorContext, partialText?: string): ProviderError {
  return transportProviderError(
    err,
    {
      provider: PROVIDER,
      label: 'Anthropic',
      method: ctx.method,
      endpoint: ctx.endpoint,
      unreachable: (e) => ({
        message: `Could not connect to Anthropic at ${ctx.baseUrl}${e.errno === undefined ? '' : ` (${e.errno})`}; check the network connection or provider.anthropic.base_url.`,
      }),
      timeout: (phase, ms) => timeoutMessage(phase, ms, ctx),
      connectionLost: () => `The connection to Anthropic at ${ctx.baseUrl} was lost mid-response; try again.`,
      protocol: () =>
        `The server at ${ctx.baseUrl} did not answer with valid HTTP; check that provider.anthropic.base_url points at the Messages API.`,
    },
    partialText,
  );
}

function timeoutMessage(phase: string, ms: number, ctx: ErrorContext): string {
  const d = formatDuration(ms);
  switch (phase) {
    case 'connect':
      return `Could not connect to Anthropic at ${ctx.baseUrl} within ${d}; check the network or raise provider.anthropic.timeouts.connect.`;
    case 'load':
      if (ctx.streamed === false) {
        return `Anthropic did not answer within ${d}; a long answer takes longer than that unstreamed, so raise provider.anthropic.timeouts.load or stream the answer.`;
      }
      return `Anthropic did not start answering within ${d}; raise provider.anthropic.timeouts.load.`;
    case 'idle':
      return `Anthropic sent nothing for ${d} in the middle of a response; raise provider.anthropic.timeouts.idle if that is expected.`;
    default:
      return `The Anthropic request took longer than ${d}; raise provider.anthropic.timeouts.request (0 means no limit).`;
  }
}

/** Anthropic answered something Omega cannot read. */
export function protocolError(detail: string, ctx: ErrorContext, cause?: unknown, partialText?: string): ProviderError {
  return new ProviderError({
    provider: PROVIDER,
    code: 'protocol',
    message: `Anthropic at ${ctx.baseUrl} sent an unreadable response to ${ctx.method} ${ctx.endpoint} (${detail}); check that provider.anthropic.base_url points at the Messages API.`,
    cause,
    ...(partialText ? { partialText } : {}),
  });
}

/** Any failure while talking to Anthropic, mapped; ProviderErrors pass through unchanged. */
export function toProviderError(error: unknown, ctx: ErrorContext, partialText?: string): unknown {
  if (error instanceof ProviderError) return error;
  if (error instanceof TransportError) return fromTransport(error, ctx, partialText);
  if (error instanceof LineTooLongError) {
    return protocolError(`an event exceeded ${error.maxLineBytes} bytes`, ctx, error, partialText);
  }
  return error;
}
