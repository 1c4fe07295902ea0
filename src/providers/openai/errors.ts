/**
 * The OpenAI-compatible part of error mapping: the body shapes in use, one actionable sentence
 * per outcome, and the cases of these APIs (a missing model, a used-up quota). The status ladder
 * and transport failures are the shared ones in `../shared/`. Parameterised by
 * {@link ApiErrorContext} so OpenAI, OpenRouter and any compatible server share the wording while
 * naming their own service (or, for a compatible server, its URL), environment variable and
 * config keys.
 *
 * Every text that came from the server is redacted with the key before it is shortened: an API
 * may echo (part of) the key it rejected.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ProviderError, redactSecrets } from '../../core/errors.js';
import type { ProviderErrorCode } from '../../core/errors.js';
import { formatDuration } from '../../http/errors.js';
import type { TransportError } from '../../http/errors.js';
import { readErrorBody, sentence } from '../shared/body.js';
import type { BodyReading } from '../shared/body.js';
import type { RequestContext } from '../shared/context.js';
import { errorFields, partialOf } from '../shared/context.js';
import { mapFailure, transportError, unreadableError } from '../shared/failures.js';
import type { FailureWording } from '../shared/failures.js';
import { httpError } from '../shared/http-errors.js';
import type { HttpErrorFacts, HttpErrorOutcome, HttpErrorTable } from '../shared/http-errors.js';

/** What a request was about and who it went to, for wording errors. */
export interface ApiErrorContext extends RequestContext {
  /** Provider name in errors and metadata, e.g. `openai`. */
  provider: string;
  /** Service name in sentences, e.g. `OpenAI`; the base URL itself for a server that is not the named service. */
  label: string;
  /** The environment variable the key may come from, e.g. `OPENAI_API_KEY`. */
  keyEnv: string;
  /** Dotted config section, e.g. `provider.openai`. */
  configSection: string;
  /** Values that must never appear in a message (the API key). */
  secrets: readonly string[];
}

/** `OpenAI at https://api.openai.com/v1`, or just the URL when the label is the URL. */
function at(ctx: ApiErrorContext): string {
  return ctx.label === ctx.baseUrl ? ctx.baseUrl : `${ctx.label} at ${ctx.baseUrl}`;
}

/** `The OpenAI request`, or `The request to <url>`. */
function requestOf(ctx: ApiErrorContext): string {
  return ctx.label === ctx.baseUrl ? `The request to ${ctx.baseUrl}` : `The ${ctx.label} request`;
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

function reading(ctx: Pick<ApiErrorContext, 'secrets'>): BodyReading {
  return {
    fromJson: (value) => {
      const info = errorInfoOf(value, ctx);
      if (!info.json) return undefined;
      const { json: _json, ...rest } = info;
      return rest;
    },
    redact: (text) => redact(text, ctx),
    maxChars: 200,
  };
}

/** {@link errorInfoOf} of a response body; a non-JSON body is summarised (an HTML page's title, or its start), redacted before it is shortened. */
export function errorInfoOfBody(body: string, contentType: string | undefined, ctx: Pick<ApiErrorContext, 'secrets'>): ApiErrorInfo {
  return readErrorBody(body, contentType, reading(ctx));
}

const MODEL_MISSING = /\bmodel\b.*\b(does not exist|not found|not exist|unknown|not a valid model)|\bnot a valid model id\b|\bno such model\b|\bunknown model\b/i;

function rateLimited(f: HttpErrorFacts, ctx: ApiErrorContext): string {
  const quota = f.body.code === 'insufficient_quota' || /\bquota\b/i.test(f.body.message);
  if (quota) return `${ctx.label} says the account's quota is used up (${f.shown}); check the plan and billing of the account behind ${ctx.keyEnv}.`;
  const wait = f.retryAfterMs;
  return `${ctx.label} is rate-limiting requests (${f.shown}); wait${wait === undefined ? '' : ` ${formatDuration(wait)}`} and try again.`;
}

/** Cases a provider of this family adds before the shared ladder (OpenRouter's 402, ...). */
export type ApiSpecialCases = (f: HttpErrorFacts, ctx: ApiErrorContext) => HttpErrorOutcome | undefined;

function special(f: HttpErrorFacts, ctx: ApiErrorContext): HttpErrorOutcome | undefined {
  const { status, body } = f;
  const modelMissing = ctx.model !== undefined && (body.code === 'model_not_found' || (body.json && MODEL_MISSING.test(body.message)));
  if (modelMissing && (status === 404 || status === 400)) {
    return {
      code: 'model_not_found',
      message: `Model '${ctx.model}' is not available at ${ctx.label} (${f.shown}); check the model name or ${ctx.configSection}.model.`,
    };
  }
  return undefined;
}

function table(extra: ApiSpecialCases | undefined): HttpErrorTable<ApiErrorContext> {
  return {
    provider: (ctx) => ctx.provider,
    label: (ctx) => ctx.label,
    reading,
    special: extra === undefined ? special : (f, ctx) => extra(f, ctx) ?? special(f, ctx),
    redirect: (f, ctx) =>
      `${at(ctx)} redirected ${ctx.endpoint} (HTTP ${f.status}${f.location ? ` to ${f.location}` : ''}); set ${ctx.configSection}.base_url to the final address.`,
    auth: (f, ctx) =>
      f.status === 401
        ? `${ctx.label} rejected the API key (${f.shown}); set ${ctx.keyEnv} or ${ctx.configSection}.api_key to a valid key.`
        : `${ctx.label} refused the request (${f.shown}); check that the key in ${ctx.keyEnv} (or ${ctx.configSection}.api_key) is valid and allowed to use this model.`,
    noEndpoint: (f, ctx) =>
      `${at(ctx)} has no ${ctx.method} ${ctx.endpoint} (${f.shown}); check that ${ctx.configSection}.base_url points at an OpenAI-compatible API, including its version path such as /v1.`,
    timeout: (f, ctx) => `${ctx.label} timed out answering the request (${f.shown}); try again.`,
    rateLimited,
    serverError: (f, ctx) => `${ctx.label} failed (${f.shown}); try again later.`,
    rejected: (f, ctx) => `${ctx.label} rejected the request: ${sentence(f.body.message === '' ? `HTTP ${f.status}` : f.body.message)}`,
  };
}

const TABLE = table(undefined);

/** A non-2xx response as a ProviderError; `extra` adds a provider's own cases before the shared ones. */
export function fromHttpStatus(
  status: number,
  headers: IncomingHttpHeaders,
  body: string,
  ctx: ApiErrorContext,
  extra?: ApiSpecialCases,
): ProviderError {
  return httpError(status, headers, body, ctx, extra === undefined ? TABLE : table(extra));
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
    ...partialOf(partialText),
    ...errorFields(ctx),
  });
}

const WORDING: FailureWording<ApiErrorContext> = {
  provider: (ctx) => ctx.provider,
  request: requestOf,
  client: (ctx) => (ctx.label === ctx.baseUrl ? `The provider for ${ctx.baseUrl}` : `The ${ctx.label} provider`),
  unreachable: (e, ctx) => ({
    message: `Could not connect to ${at(ctx)}${e.errno ? ` (${e.errno})` : ''}; check the network connection and ${ctx.configSection}.base_url.`,
  }),
  timeout: (phase, d, ctx, option) => {
    switch (phase) {
      case 'connect':
        return `Could not connect to ${at(ctx)} within ${d}; check the network or raise ${option}.`;
      case 'load':
        return `${ctx.label} did not start answering within ${d}; try again, or raise ${option} if the model is slow to start.`;
      case 'idle':
        return `${ctx.label} sent nothing for ${d} in the middle of a response; try again, or raise ${option}.`;
      default:
        return `${requestOf(ctx)} took longer than ${d}; raise ${option} (0 means no limit).`;
    }
  },
  configSection: (ctx) => ctx.configSection,
  connectionLost: (ctx) => `The connection to ${at(ctx)} was lost mid-response; try again.`,
  invalidHttp: (ctx) => `The server at ${ctx.baseUrl} did not answer with valid HTTP; check ${ctx.configSection}.base_url.`,
  unreadable: (detail, ctx) =>
    `${at(ctx)} sent an unreadable response to ${ctx.method} ${ctx.endpoint} (${redact(detail, ctx)}); check that ${ctx.configSection}.base_url points at an OpenAI-compatible API.`,
  tooLong: (max) => `an event exceeded ${max} characters`,
};

/** The server answered something Omega cannot read. */
export function protocolError(detail: string, ctx: ApiErrorContext, cause?: unknown, partialText?: string): ProviderError {
  return unreadableError(detail, ctx, WORDING, cause, partialText);
}

/** A transport failure (no connection, timeout, cancellation, broken connection) as a ProviderError. */
export function fromTransport(err: TransportError, ctx: ApiErrorContext, partialText?: string): ProviderError {
  return transportError(err, ctx, WORDING, partialText);
}

/** Any failure while talking to the API, mapped; ProviderErrors pass through unchanged. */
export function toProviderError(error: unknown, ctx: ApiErrorContext, partialText?: string): unknown {
  return mapFailure(error, ctx, WORDING, partialText);
}
