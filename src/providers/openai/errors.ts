/**
 * Failures of OpenAI-compatible APIs as {@link ProviderError}s with one actionable sentence each.
 * Parameterised by {@link ApiErrorContext} so OpenAI, OpenRouter and any compatible server share
 * the mapping while naming their own service, environment variable and config keys.
 *
 * Every text that came from the server passes through {@link redactSecrets} with the key: an
 * API may echo (part of) the key it rejected.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ProviderError, redactSecrets } from '../../core/errors.js';
import type { ProviderErrorCode } from '../../core/errors.js';
import { LineTooLongError } from '../../http/ndjson.js';
import { TransportError, formatDuration, transportProviderError } from '../../http/errors.js';
import { retryAfterMs } from '../../http/retry-after.js';

/** What a request was about and who it went to, for wording errors. */
export interface ApiErrorContext {
  /** Provider name in errors and metadata, e.g. `openai`. */
  provider: string;
  /** Service name in sentences, e.g. `OpenAI`. */
  label: string;
  baseUrl: string;
  /** The environment variable the key may come from, e.g. `OPENAI_API_KEY`. */
  keyEnv: string;
  /** Dotted config section, e.g. `provider.openai`. */
  configSection: string;
  method: string;
  /** Path below the base URL, e.g. `/chat/completions`. */
  endpoint: string;
  /** The model the request named, if any. */
  model?: string;
  /** Values that must never appear in a message (the API key). */
  secrets: readonly string[];
}

/** The parts of an error body Omega uses. */
export interface ApiErrorInfo {
  /** Human-readable text (redacted), or '' when the body had none. */
  message: string;
  /** The API's machine code (`model_not_found`, `rate_limit_exceeded`, `429`, ...), when given. */
  code?: string;
  /** OpenAI's `type` (`invalid_request_error`, ...), when given. */
  type?: string;
  /** True when the body was a recognisable JSON error. */
  json: boolean;
}

/** Removes the key (and OpenAI's masked echo of it) from server text. */
export function redact(text: string, ctx: Pick<ApiErrorContext, 'secrets'>): string {
  return redactSecrets(text, ctx.secrets).replace(/(Incorrect API key provided:\s*)[^\s.]+(\.[^\s.]+)*/gi, '$1[REDACTED]');
}

function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function stringOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/**
 * Reads an error value of any of the shapes in use: OpenAI's `{"error":{"message","type","code"}}`,
 * OpenRouter's `{"error":{"code":429,"message"}}`, vLLM's `{"object":"error","message"}`, a bare
 * `{"error":"text"}`, FastAPI's `{"detail":...}`.
 */
export function errorInfoOf(value: unknown, ctx: Pick<ApiErrorContext, 'secrets'>): ApiErrorInfo {
  if (typeof value === 'string') return { message: redact(value.trim(), ctx), json: true };
  if (typeof value !== 'object' || value === null) return { message: '', json: false };
  const v = value as Record<string, unknown>;
  if (v.error !== undefined && v.error !== null) {
    const inner = errorInfoOf(v.error, ctx);
    if (inner.json) return inner;
  }
  const message = stringOf(v.message) ?? stringOf(v.detail) ?? (typeof v.detail === 'object' ? JSON.stringify(v.detail) : undefined);
  if (message === undefined && v.code === undefined && v.type === undefined) return { message: '', json: false };
  const info: ApiErrorInfo = { message: redact((message ?? '').trim(), ctx), json: true };
  const code = stringOf(v.code);
  if (code !== undefined) info.code = code;
  const type = stringOf(v.type);
  if (type !== undefined) info.type = type;
  return info;
}

/** {@link errorInfoOf} of a response body; a non-JSON body is summarised (an HTML page's title, or its start). */
export function errorInfoOfBody(body: string, contentType: string | undefined, ctx: Pick<ApiErrorContext, 'secrets'>): ApiErrorInfo {
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) {
    try {
      const info = errorInfoOf(JSON.parse(trimmed), ctx);
      if (info.json) return info;
    } catch {
      // not JSON after all: summarised below
    }
  }
  return { message: redact(summarizeBody(trimmed, contentType), ctx), json: false };
}

function summarizeBody(body: string, contentType: string | undefined): string {
  let text = body;
  if (/html/i.test(contentType ?? '') || /^\s*<(!doctype|html|head|body)/i.test(body)) {
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(body);
    text = title?.[1] !== undefined && title[1].trim() !== '' ? title[1] : body.replace(/<[^>]*>/g, ' ');
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

const MODEL_MISSING = /\bmodel\b.*\b(does not exist|not found|not exist|unknown|not a valid model)|\bnot a valid model id\b|\bno such model\b|\bunknown model\b/i;

/** A non-2xx response as a ProviderError. */
export function fromHttpStatus(
  status: number,
  headers: IncomingHttpHeaders,
  body: string,
  ctx: ApiErrorContext,
): ProviderError {
  const info = errorInfoOfBody(body, header(headers, 'content-type'), ctx);
  const detail = info.message;
  const shown = detail === '' ? `HTTP ${status}` : `HTTP ${status}: ${detail}`;
  const make = (code: ProviderErrorCode, message: string, extra?: { retryAfterMs?: number; retryable?: boolean }) =>
    new ProviderError({
      provider: ctx.provider,
      code,
      status,
      message,
      ...(detail === '' ? {} : { providerMessage: detail }),
      ...extra,
    });
  const modelMissing =
    ctx.model !== undefined && (info.code === 'model_not_found' || (info.json && MODEL_MISSING.test(detail)));

  if (status === 401) {
    return make('auth', `${ctx.label} rejected the API key (${shown}); set ${ctx.keyEnv} or ${ctx.configSection}.api_key to a valid key.`);
  }
  if (status === 403) {
    return make(
      'auth',
      `${ctx.label} refused the request (${shown}); check that the key in ${ctx.keyEnv} (or ${ctx.configSection}.api_key) is valid and allowed to use this model.`,
    );
  }
  if (status === 429) {
    const wait = retryAfterMs(headers);
    const quota = info.code === 'insufficient_quota' || /\bquota\b/i.test(detail);
    const message = quota
      ? `${ctx.label} says the account's quota is used up (${shown}); check the plan and billing of the account behind ${ctx.keyEnv}.`
      : `${ctx.label} is rate-limiting requests (${shown}); wait${wait === undefined ? '' : ` ${formatDuration(wait)}`} and try again.`;
    return make('rate_limited', message, wait === undefined ? undefined : { retryAfterMs: wait });
  }
  if (modelMissing && (status === 404 || status === 400)) {
    return make(
      'model_not_found',
      `Model '${ctx.model}' is not available at ${ctx.label} (${shown}); check the model name or ${ctx.configSection}.model.`,
    );
  }
  if (status === 404 || status === 405) {
    return make(
      'protocol',
      `${ctx.label} at ${ctx.baseUrl} has no ${ctx.method} ${ctx.endpoint} (${shown}); check that ${ctx.configSection}.base_url points at an OpenAI-compatible API, including its version path such as /v1.`,
    );
  }
  if (status >= 300 && status < 400) {
    const location = header(headers, 'location');
    return make(
      'protocol',
      `${ctx.label} at ${ctx.baseUrl} redirected ${ctx.endpoint} (HTTP ${status}${location ? ` to ${location}` : ''}); set ${ctx.configSection}.base_url to the final address.`,
    );
  }
  if (status === 408) {
    return make('timeout', `${ctx.label} timed out answering the request (${shown}); try again.`);
  }
  if (status >= 500) {
    return make('server_error', `${ctx.label} failed (${shown}); try again later.`);
  }
  return make('bad_request', `${ctx.label} rejected the request: ${sentence(detail === '' ? `HTTP ${status}` : detail)}`);
}

/** The ProviderError code of an error code reported inside a 200 stream (a number or a name). */
export function codeOfStreamError(info: ApiErrorInfo): ProviderErrorCode {
  const raw = info.code ?? info.type ?? '';
  const n = /^\d{3}$/.test(raw) ? Number(raw) : undefined;
  if (n !== undefined) {
    if (n === 401 || n === 403) return 'auth';
    if (n === 429) return 'rate_limited';
    if (n === 408) return 'timeout';
    if (n === 404) return 'model_not_found';
    if (n >= 500) return 'server_error';
    if (n >= 400) return 'bad_request';
  }
  if (/rate_limit/i.test(raw)) return 'rate_limited';
  if (/invalid_api_key|authentication|permission/i.test(raw)) return 'auth';
  if (/invalid_request|context_length|bad_request|invalid_prompt/i.test(raw)) return 'bad_request';
  return 'server_error';
}

/** An error object received inside a 200 response (SSE `error` event, `{"error":...}` chunk). */
export function fromStreamError(value: unknown, ctx: ApiErrorContext, partialText?: string): ProviderError {
  const info = errorInfoOf(value, ctx);
  let code = codeOfStreamError(info);
  if (code === 'model_not_found' && ctx.model === undefined) code = 'bad_request';
  const text = info.message === '' ? 'no details given' : info.message;
  return new ProviderError({
    provider: ctx.provider,
    code,
    message: `${ctx.label} failed mid-response: ${sentence(text)}`,
    ...(info.message === '' ? {} : { providerMessage: info.message }),
    ...(partialText === undefined || partialText === '' ? {} : { partialText }),
  });
}

/** The server answered something Omega cannot read. */
export function protocolError(detail: string, ctx: ApiErrorContext, cause?: unknown, partialText?: string): ProviderError {
  return new ProviderError({
    provider: ctx.provider,
    code: 'protocol',
    message: `${ctx.label} at ${ctx.baseUrl} sent an unreadable response to ${ctx.method} ${ctx.endpoint} (${redact(detail, ctx)}); check that ${ctx.configSection}.base_url points at an OpenAI-compatible API.`,
    cause,
    ...(partialText === undefined || partialText === '' ? {} : { partialText }),
  });
}

/** A transport failure (no connection, timeout, cancellation, broken connection) as a ProviderError. */
export function fromTransport(err: TransportError, ctx: ApiErrorContext, partialText?: string): ProviderError {
  const section = ctx.configSection;
  return transportProviderError(
    err,
    {
      provider: ctx.provider,
      label: ctx.label,
      method: ctx.method,
      endpoint: ctx.endpoint,
      unreachable: (e) => ({
        message: `Could not connect to ${ctx.label} at ${ctx.baseUrl}${e.errno ? ` (${e.errno})` : ''}; check the network connection and ${section}.base_url.`,
      }),
      timeout: (phase, ms) => timeoutMessage(phase, ms, ctx),
      connectionLost: () => `The connection to ${ctx.label} at ${ctx.baseUrl} was lost mid-response; try again.`,
      protocol: () => `The server at ${ctx.baseUrl} did not answer with valid HTTP; check ${section}.base_url.`,
    },
    partialText,
  );
}

function timeoutMessage(phase: string, ms: number, ctx: ApiErrorContext): string {
  const d = formatDuration(ms);
  const key = `${ctx.configSection}.timeouts`;
  switch (phase) {
    case 'connect':
      return `Could not connect to ${ctx.label} at ${ctx.baseUrl} within ${d}; check the network or raise ${key}.connect.`;
    case 'load':
      return `${ctx.label} did not start answering within ${d}; try again, or raise ${key}.load if the model is slow to start.`;
    case 'idle':
      return `${ctx.label} sent nothing for ${d} in the middle of a response; try again, or raise ${key}.idle.`;
    default:
      return `The ${ctx.label} request took longer than ${d}; raise ${key}.request (0 means no limit).`;
  }
}

/** Any failure while talking to the API, mapped; ProviderErrors pass through unchanged. */
export function toProviderError(error: unknown, ctx: ApiErrorContext, partialText?: string): unknown {
  if (error instanceof ProviderError) return error;
  if (error instanceof TransportError) return fromTransport(error, ctx, partialText);
  if (error instanceof LineTooLongError) {
    return protocolError(`an event exceeded ${error.maxLineBytes} characters`, ctx, error, partialText);
  }
  return error;
}
