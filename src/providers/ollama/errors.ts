/**
 * Ollama's failures as {@link ProviderError}s with one actionable sentence each. Detection goes
 * by HTTP status first and text second, since Ollama's wording differs between endpoints and
 * versions (see the reference, §3).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ProviderError } from '../../core/errors.js';
import type { ProviderErrorCode } from '../../core/errors.js';
import { LineTooLongError } from '../../http/ndjson.js';
import { TransportError, formatDuration, transportProviderError } from '../../http/errors.js';
import { PROVIDER } from './wire.js';

/** What a request was about, for wording errors. */
export interface ErrorContext {
  /** The base URL requests went to. */
  baseUrl: string;
  /** Where the base URL came from; `env` means `OLLAMA_HOST`. */
  baseUrlSource: 'default' | 'config' | 'env';
  method: string;
  /** Path below the base URL, e.g. `/api/chat`. */
  endpoint: string;
  /** The model the request named, if any. */
  model?: string;
  /** False for a non-streamed call, where the load phase also covers generating the answer. */
  streamed?: boolean;
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL']);

/** The "not running" sentence the product promises, naming `OLLAMA_HOST` when it chose the address. */
export function notRunningMessage(ctx: ErrorContext): string {
  if (ctx.baseUrlSource === 'env') {
    return `Ollama not running at ${ctx.baseUrl}. Start it with \`ollama serve\`, or correct OLLAMA_HOST, which set this address.`;
  }
  return `Ollama not running at ${ctx.baseUrl}. Start it with \`ollama serve\`.`;
}

/** The "not installed" sentence the product promises. */
export function notInstalledMessage(model: string): string {
  return `Model '${model}' not installed. Run \`ollama pull ${model}\`.`;
}

/** A transport failure (no connection, timeout, cancellation, broken connection) as a ProviderError. */
export function fromTransport(err: TransportError, ctx: ErrorContext, partialText?: string): ProviderError {
  return transportProviderError(
    err,
    {
      provider: PROVIDER,
      label: 'Ollama',
      method: ctx.method,
      endpoint: ctx.endpoint,
      unreachable: (e) => {
        // A refused connection needs no hint beyond the message; a name that does not resolve does.
        const dns = e.errno !== undefined && DNS_CODES.has(e.errno);
        const hint = dns
          ? `The host name in ${ctx.baseUrl} could not be resolved; check provider.ollama.base_url${ctx.baseUrlSource === 'env' ? ' and OLLAMA_HOST' : ''}.`
          : undefined;
        return { message: notRunningMessage(ctx), ...(hint === undefined ? {} : { hint }) };
      },
      timeout: (phase, ms) => timeoutMessage(phase, ms, ctx),
      connectionLost: () =>
        `The connection to Ollama at ${ctx.baseUrl} was lost mid-response; check that Ollama is still running (it may have crashed or run out of memory) and try again.`,
      protocol: () => `The server at ${ctx.baseUrl} did not answer with valid HTTP; check that provider.ollama.base_url points at Ollama.`,
    },
    partialText,
  );
}

function timeoutMessage(phase: string, ms: number, ctx: ErrorContext): string {
  const d = formatDuration(ms);
  switch (phase) {
    case 'connect':
      return `Could not connect to Ollama at ${ctx.baseUrl} within ${d}; check the address or raise provider.ollama.timeouts.connect.`;
    case 'load':
      if (ctx.streamed === false) {
        return `Ollama did not answer within ${d}; the model may still be loading or writing a long answer, so raise provider.ollama.timeouts.load or stream the answer.`;
      }
      return `Ollama did not start answering within ${d}; the model may still be loading, so raise provider.ollama.timeouts.load.`;
    case 'idle':
      return `Ollama sent nothing for ${d} in the middle of a response; if the model is just slow, raise provider.ollama.timeouts.idle.`;
    default:
      return `The Ollama request took longer than ${d}; raise provider.ollama.timeouts.request (0 means no limit).`;
  }
}

/** Any failure while talking to Ollama, mapped; ProviderErrors pass through unchanged. */
export function toProviderError(error: unknown, ctx: ErrorContext, partialText?: string): unknown {
  if (error instanceof ProviderError) return error;
  if (error instanceof TransportError) return fromTransport(error, ctx, partialText);
  if (error instanceof LineTooLongError) {
    return protocolError(`a response line exceeded ${error.maxLineBytes} bytes`, ctx, error, partialText);
  }
  return error;
}

/** Ollama answered something Omega cannot read. */
export function protocolError(detail: string, ctx: ErrorContext, cause?: unknown, partialText?: string): ProviderError {
  return new ProviderError({
    provider: PROVIDER,
    code: 'protocol',
    message: `Ollama at ${ctx.baseUrl} sent an unreadable response to ${ctx.method} ${ctx.endpoint} (${detail}); check that provider.ollama.base_url points at Ollama.`,
    cause,
    partialText: partialText === '' ? undefined : partialText,
  });
}

/** Ollama's `error` text from a JSON error body (`{"error":"..."}`, or OpenAI's `{"error":{"message":...}}`). */
export function ollamaErrorText(body: string): string | undefined {
  const trimmed = body.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(trimmed) as { error?: unknown };
    return errorValueText(parsed.error);
  } catch {
    return undefined;
  }
}

/** The text of an `error` value, whatever its shape. */
export function errorValueText(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'object' && value !== null) {
    const message = (value as { message?: unknown }).message;
    if (typeof message === 'string') return message.trim();
    return JSON.stringify(value);
  }
  if (value === undefined || value === null) return undefined;
  return String(value);
}

/** A readable one-line summary of a non-JSON body: an HTML page's title, or the start of plain text. */
export function summarizeBody(body: string, contentType: string | undefined): string {
  let text = body;
  const html = /html/i.test(contentType ?? '') || /^\s*<(!doctype|html|head|body)/i.test(body);
  if (html) {
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(body);
    text = title?.[1] !== undefined && title[1].trim() !== '' ? title[1] : body.replace(/<[^>]*>/g, ' ');
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/** Model named in one of Ollama's "not found" texts: `model "x" not found...` or `model 'x' not found`. */
function modelFromText(text: string): string | undefined {
  const m = /model ["']([^"']*)["'] not found/i.exec(text);
  return m?.[1];
}

function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** A non-2xx HTTP response as a ProviderError. */
export function fromHttpStatus(
  status: number,
  headers: IncomingHttpHeaders,
  body: string,
  ctx: ErrorContext,
): ProviderError {
  const contentType = headerValue(headers['content-type']);
  const ollamaText = ollamaErrorText(body);
  const isJson = ollamaText !== undefined;
  const detail = isJson ? ollamaText : summarizeBody(body, contentType);
  const shown = detail === '' ? `HTTP ${status}` : `HTTP ${status}: ${detail}`;
  const make = (code: ProviderErrorCode, message: string, extra?: { retryAfterMs?: number; hint?: string }) =>
    new ProviderError({
      provider: PROVIDER,
      code,
      status,
      message,
      providerMessage: detail === '' ? undefined : detail,
      ...extra,
    });

  if (status === 404 && isJson && /not found/i.test(ollamaText)) {
    const model = ctx.model ?? modelFromText(ollamaText);
    if (model !== undefined && model !== '' && /\bmodel\b/i.test(ollamaText)) {
      return make('model_not_found', notInstalledMessage(model));
    }
  }
  if (status === 404 || status === 405) {
    return make(
      'protocol',
      `Ollama at ${ctx.baseUrl} has no ${ctx.method} ${ctx.endpoint} (${shown}); check that provider.ollama.base_url points at Ollama and that Ollama is up to date.`,
    );
  }
  if (status >= 300 && status < 400) {
    const location = headerValue(headers.location);
    return make(
      'protocol',
      `Ollama at ${ctx.baseUrl} redirected ${ctx.endpoint} (HTTP ${status}${location ? ` to ${location}` : ''}); set provider.ollama.base_url to the final address.`,
    );
  }
  if (status === 400 && isJson) {
    if (/input length exceeds the context length/i.test(ollamaText)) {
      // The provider adds the numbers (ContextManager.overflow); this is the fallback wording.
      const who = ctx.model !== undefined ? ` of '${ctx.model}'` : '';
      return make('context_overflow', `The prompt is longer than the context window${who}; shorten it or raise options.num_ctx.`);
    }
    const unsupported = /does not support (\w+)/i.exec(ollamaText);
    if (unsupported) {
      const what = unsupported[1] as string;
      const who = ctx.model !== undefined ? `Model '${ctx.model}'` : 'The model';
      return make(
        'unsupported',
        `${who} does not support ${what}; use a model that does (\`ollama show <model>\` lists its capabilities) or leave ${what} out of the request.`,
      );
    }
    if (/cannot unmarshal string into Go struct field \w+\.think of type bool/.test(ollamaText)) {
      return make(
        'unsupported',
        'This Ollama version accepts only true or false for think; upgrade Ollama to use thinking levels.',
      );
    }
    if (ollamaText === 'invalid model name' && ctx.model !== undefined) {
      return make('bad_request', `'${ctx.model}' is not a valid model name; use a name like llama3 or llama3:8b.`);
    }
    return make('bad_request', `Ollama rejected the request: ${sentence(ollamaText)}`);
  }
  if (status === 401 || status === 403) {
    return make(
      'auth',
      `Ollama at ${ctx.baseUrl} refused the request (${shown}); Ollama rejects Host and Origin headers it does not allow, so check OLLAMA_ORIGINS on the server or the proxy in front of it.`,
    );
  }
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(headerValue(headers['retry-after']));
    return make('rate_limited', `Ollama at ${ctx.baseUrl} is rate-limiting requests (${shown}); wait and try again.`, {
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (status === 503) {
    return make('busy', `Ollama is busy (${shown}); try again in a moment or raise OLLAMA_MAX_QUEUE on the server.`);
  }
  if ((status === 502 || status === 504) && !isJson) {
    return make(
      'unavailable',
      `A proxy in front of Ollama at ${ctx.baseUrl} could not reach it (${shown}); check that Ollama is running behind the proxy.`,
    );
  }
  if (status === 500 && isJson && /^invalid (format|JSON schema)/i.test(ollamaText)) {
    // 0.9.6 checks `format` only once generation starts, so a non-streamed call gets a 500.
    return make('bad_request', `Ollama rejected the request: ${sentence(ollamaText)}`);
  }
  if (status >= 500) {
    return make('server_error', `Ollama failed (${shown}); see the Ollama server log for details.`);
  }
  return make('bad_request', `Ollama rejected the request (${shown}).`);
}

/** An `{"error": ...}` line inside a 200 stream (Ollama reports failures after the header that way). */
export function fromStreamError(text: string, ctx: ErrorContext, partialText?: string): ProviderError {
  const partial = partialText === '' ? undefined : partialText;
  const base = { provider: PROVIDER, providerMessage: text, partialText: partial };
  const unsupported = /does not support (\w+)/i.exec(text);
  if (unsupported) {
    return new ProviderError({
      ...base,
      code: 'unsupported',
      message: `${ctx.model !== undefined ? `Model '${ctx.model}'` : 'The model'} does not support ${unsupported[1]}: ${sentence(text)}`,
    });
  }
  if (/^invalid (format|JSON schema)/i.test(text)) {
    return new ProviderError({ ...base, code: 'bad_request', message: `Ollama rejected the request: ${sentence(text)}` });
  }
  if (/\bmodel\b.*\bnot found\b/i.test(text) && ctx.model !== undefined) {
    return new ProviderError({ ...base, code: 'model_not_found', message: notInstalledMessage(ctx.model) });
  }
  return new ProviderError({ ...base, code: 'server_error', message: `Ollama failed mid-response: ${sentence(text)}` });
}

const UNREACHABLE_REGISTRY =
  /no such host|dial tcp|connection refused|i\/o timeout|network is unreachable|TLS handshake|certificate|timeout|\bEOF\b/i;

/** An `{"error": ...}` line during `pull`. */
export function fromPullError(text: string, model: string): ProviderError {
  const base = { provider: PROVIDER, providerMessage: text };
  if (/file does not exist|manifest unknown|not found/i.test(text)) {
    return new ProviderError({
      ...base,
      code: 'model_not_found',
      message: `Model '${model}' does not exist in the registry (Ollama: ${text}); check the name at https://ollama.com/library.`,
    });
  }
  if (UNREACHABLE_REGISTRY.test(text)) {
    return new ProviderError({
      ...base,
      code: 'unavailable',
      message: `Ollama could not reach the model registry to pull '${model}' (${text}); check the network or proxy settings of the machine running Ollama.`,
    });
  }
  return new ProviderError({ ...base, code: 'server_error', message: `Pulling '${model}' failed: ${sentence(text)}` });
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
