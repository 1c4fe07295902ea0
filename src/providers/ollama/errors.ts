/**
 * Ollama's part of error mapping: how its bodies look, one actionable sentence per outcome, and
 * its own cases (the "does not support" texts, the think unmarshal error of old versions,
 * 0.9.6's 500 for a bad `format`). The status ladder and the transport failures are the shared
 * ones in `../shared/`. Detection goes by HTTP status first and text second, since Ollama's
 * wording differs between endpoints and versions (see the reference, §3).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ProviderError, redactSecrets } from '../../core/errors.js';
import type { BaseUrlSource } from '../../core/errors.js';
import type { TransportError } from '../../http/errors.js';
import { sentence } from '../shared/body.js';
import type { BodyReading } from '../shared/body.js';
import type { RequestContext } from '../shared/context.js';
import { errorFields, partialOf } from '../shared/context.js';
import { mapFailure, transportError, unreadableError } from '../shared/failures.js';
import type { FailureWording } from '../shared/failures.js';
import { httpError } from '../shared/http-errors.js';
import type { HttpErrorFacts, HttpErrorOutcome, HttpErrorTable } from '../shared/http-errors.js';
import { PROVIDER } from './wire.js';

/** What a request was about, for wording errors. */
export interface ErrorContext extends RequestContext {
  /** Where the base URL came from; `env` means `OLLAMA_HOST`. */
  baseUrlSource: BaseUrlSource;
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL']);
const SERVER_LOG = 'see the Ollama server log for details';

/** The setting that chose the base URL, as a user would change it. */
function baseUrlSetting(source: BaseUrlSource): string {
  return source === 'env' ? 'OLLAMA_HOST' : 'provider.ollama.base_url';
}

/** The one wording of "Ollama is not running"; every message about it starts here. */
function notRunningAt(baseUrl: string): string {
  return `Ollama not running at ${baseUrl}`;
}

/** The "not running" sentence the product promises, naming `OLLAMA_HOST` when it chose the address. */
export function notRunningMessage(ctx: Pick<ErrorContext, 'baseUrl' | 'baseUrlSource'>): string {
  if (ctx.baseUrlSource === 'env') {
    return `${notRunningAt(ctx.baseUrl)}. Start it with \`ollama serve\`, or correct OLLAMA_HOST, which set this address.`;
  }
  return `${notRunningAt(ctx.baseUrl)}. Start it with \`ollama serve\`.`;
}

/** "Ollama not running" as a status line, with where the address came from; the next step is {@link notRunningStep}. */
export function notRunningSummary(baseUrl: string, source: BaseUrlSource | undefined): string {
  return `${notRunningAt(baseUrl)}${source === 'env' ? ' (from OLLAMA_HOST)' : ''}.`;
}

/** What to do when Ollama is not running, naming the setting that chose the address. */
export function notRunningStep(source: BaseUrlSource | undefined): string {
  if (source === 'env') return 'Start it with `ollama serve`, or fix OLLAMA_HOST if Ollama runs elsewhere.';
  if (source === 'config') return 'Start it with `ollama serve`, or fix `[provider.ollama] base_url` if Ollama runs elsewhere.';
  return 'Start it with `ollama serve`, or set OLLAMA_HOST if Ollama runs elsewhere.';
}

/** The "not installed" sentence the product promises. */
export function notInstalledMessage(model: string): string {
  return `Model '${model}' not installed. Run \`ollama pull ${model}\`.`;
}

function hostOf(baseUrl: string): string {
  try {
    return new URL(baseUrl).hostname;
  } catch {
    return baseUrl;
  }
}

const WORDING: FailureWording<ErrorContext> = {
  provider: () => PROVIDER,
  request: () => 'The Ollama request',
  client: () => 'The Ollama provider',
  unreachable: (e, ctx) => {
    if (e.errno !== undefined && DNS_CODES.has(e.errno)) {
      // Not "not running": nothing was tried, because the name led nowhere.
      return {
        message: `The host name '${hostOf(ctx.baseUrl)}' in ${ctx.baseUrl} could not be resolved, so Ollama cannot be reached; correct ${baseUrlSetting(ctx.baseUrlSource)}, which set this address.`,
        hint: 'Check the spelling of the host name and that this machine can resolve it.',
      };
    }
    return { message: notRunningMessage(ctx) };
  },
  timeout: (phase, d, ctx, option) => {
    switch (phase) {
      case 'connect':
        return `Could not connect to Ollama at ${ctx.baseUrl} within ${d}; check the address or raise ${option}.`;
      case 'load':
        if (ctx.streamed === false) {
          return `Ollama did not answer within ${d}; the model may still be loading or writing a long answer, so raise ${option} or stream the answer.`;
        }
        return `Ollama did not start answering within ${d}; the model may still be loading, so raise ${option}.`;
      case 'idle':
        return `Ollama sent nothing for ${d} in the middle of a response; if the model is just slow, raise ${option}.`;
      default:
        return `The Ollama request took longer than ${d}; raise ${option} (0 means no limit).`;
    }
  },
  configSection: () => 'provider.ollama',
  connectionLost: (ctx) =>
    `The connection to Ollama at ${ctx.baseUrl} was lost mid-response; check that Ollama is still running (it may have crashed or run out of memory) and try again.`,
  invalidHttp: (ctx) => `The server at ${ctx.baseUrl} did not answer with valid HTTP; check that provider.ollama.base_url points at Ollama.`,
  unreadable: (detail, ctx) =>
    `Ollama at ${ctx.baseUrl} sent an unreadable response to ${ctx.method} ${ctx.endpoint} (${detail}); check that provider.ollama.base_url points at Ollama.`,
  tooLong: (max) => `a response line exceeded ${max} bytes`,
};

/** A transport failure (no connection, timeout, cancellation, broken connection) as a ProviderError. */
export function fromTransport(err: TransportError, ctx: ErrorContext, partialText?: string): ProviderError {
  return transportError(err, ctx, WORDING, partialText);
}

/** Any failure while talking to Ollama, mapped; ProviderErrors pass through unchanged. */
export function toProviderError(error: unknown, ctx: ErrorContext, partialText?: string): unknown {
  return mapFailure(error, ctx, WORDING, partialText);
}

/** Ollama answered something Omega cannot read. */
export function protocolError(detail: string, ctx: ErrorContext, cause?: unknown, partialText?: string): ProviderError {
  return unreadableError(detail, ctx, WORDING, cause, partialText);
}

/** The text of an `error` value, whatever its shape (`"text"`, or OpenAI's `{"message":...}`). */
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

const READING: BodyReading = {
  fromJson: (value) => {
    if (typeof value !== 'object' || value === null) return undefined;
    const text = errorValueText((value as { error?: unknown }).error);
    if (text === undefined) return undefined;
    // Ollama 0.12+ answers a cloud model without sign-in with where to sign in.
    const link = (value as { signin_url?: unknown }).signin_url;
    return typeof link === 'string' && /^https?:\/\//.test(link) ? { message: text, link } : { message: text };
  },
  redact: (text) => redactSecrets(text),
  maxChars: 200,
};

/** Model named in one of Ollama's "not found" texts: `model "x" not found...` or `model 'x' not found`. */
function modelFromText(text: string): string | undefined {
  return /model ["']([^"']*)["'] not found/i.exec(text)?.[1];
}

/** Ollama's own cases, tried before the shared ladder. */
function special(f: HttpErrorFacts, ctx: ErrorContext): { code: ProviderError['code']; message: string } | undefined {
  const { status, body } = f;
  const text = body.message;
  if (status === 404 && body.json && /not found/i.test(text)) {
    const model = ctx.model ?? modelFromText(text);
    if (model !== undefined && model !== '' && /\bmodel\b/i.test(text)) return { code: 'model_not_found', message: notInstalledMessage(model) };
  }
  const cloud = cloudCase(f, ctx);
  if (cloud !== undefined) return cloud;
  if (status === 400 && body.json) {
    const level = /think value "?([^"\s]+)"? is not supported for this model/i.exec(text);
    if (level) {
      const who = ctx.model !== undefined ? `Model '${ctx.model}'` : 'This model';
      return {
        code: 'unsupported',
        message: `${who} does not take the thinking level "${level[1]}" (Ollama accepts levels only for gpt-oss models); send think as true or false instead.`,
      };
    }
    if (/input length exceeds the context length/i.test(text)) {
      // The provider adds the numbers (ContextManager.overflowFromServer); this is the fallback wording.
      const who = ctx.model !== undefined ? ` of '${ctx.model}'` : '';
      return { code: 'context_overflow', message: `The prompt is longer than the context window${who}; shorten it or raise options.num_ctx.` };
    }
    const unsupported = /does not support (\w+)/i.exec(text);
    if (unsupported) {
      const what = unsupported[1] as string;
      const who = ctx.model !== undefined ? `Model '${ctx.model}'` : 'The model';
      return {
        code: 'unsupported',
        message: `${who} does not support ${what}; use a model that does (\`ollama show <model>\` lists its capabilities) or leave ${what} out of the request.`,
      };
    }
    if (/cannot unmarshal string into Go struct field \w+\.think of type bool/.test(text)) {
      return { code: 'unsupported', message: 'This Ollama version accepts only true or false for think; upgrade Ollama to use thinking levels.' };
    }
    if (text === 'invalid model name' && ctx.model !== undefined) {
      return { code: 'bad_request', message: `'${ctx.model}' is not a valid model name; use a name like llama3 or llama3:8b.` };
    }
    return { code: 'bad_request', message: `Ollama rejected the request: ${sentence(text)}` };
  }
  if (status === 503) {
    return { code: 'busy', message: `Ollama is busy (${f.shown}); try again in a moment or raise OLLAMA_MAX_QUEUE on the server.` };
  }
  if ((status === 502 || status === 504) && !body.json) {
    return {
      code: 'unavailable',
      message: `A proxy in front of Ollama at ${ctx.baseUrl} could not reach it (${f.shown}); check that Ollama is running behind the proxy.`,
    };
  }
  if (status === 500 && body.json && /^invalid (format|JSON schema)/i.test(text)) {
    // 0.9.6 checks `format` only once generation starts, so a non-streamed call gets a 500.
    return { code: 'bad_request', message: `Ollama rejected the request: ${sentence(text)}` };
  }
  return undefined;
}

/**
 * Cloud models (Ollama 0.12 and later): local names for models that run on ollama.com. Their
 * failures name the server setting or the command that fixes them, not the model.
 */
function cloudCase(f: HttpErrorFacts, ctx: ErrorContext): HttpErrorOutcome | undefined {
  const { status, body } = f;
  const text = body.message;
  const who = ctx.model !== undefined ? `cloud model '${ctx.model}'` : 'cloud models';
  if (status === 401 && body.json && body.link !== undefined) {
    return {
      code: 'auth',
      message: `Ollama at ${ctx.baseUrl} is not signed in to ollama.com, which ${who} needs. Run \`ollama signin\` on that machine (or open ${body.link}).`,
    };
  }
  if (status === 403 && /ollama cloud is disabled/i.test(text)) {
    return {
      code: 'unsupported',
      message: `Ollama at ${ctx.baseUrl} has cloud models disabled, so ${who} cannot run there; use a local model, or unset OLLAMA_NO_CLOUD (or disable_ollama_cloud in ~/.ollama/server.json) on the server.`,
    };
  }
  if (status === 400 && /this server cannot run this remote model/i.test(text)) {
    return {
      code: 'unsupported',
      message: `Ollama at ${ctx.baseUrl} may not run ${who}: its host is not in the server's OLLAMA_REMOTES list (ollama.com by default); add it there or use a local model.`,
    };
  }
  return undefined;
}

const TABLE: HttpErrorTable<ErrorContext> = {
  provider: () => PROVIDER,
  label: () => 'Ollama',
  reading: () => READING,
  special,
  redirect: (f, ctx) =>
    `Ollama at ${ctx.baseUrl} redirected ${ctx.endpoint} (HTTP ${f.status}${f.location ? ` to ${f.location}` : ''}); set provider.ollama.base_url to the final address.`,
  auth: (f, ctx) =>
    `Ollama at ${ctx.baseUrl} refused the request (${f.shown}); Ollama rejects Host and Origin headers it does not allow, so check OLLAMA_ORIGINS on the server or the proxy in front of it.`,
  noEndpoint: (f, ctx) =>
    `Ollama at ${ctx.baseUrl} has no ${ctx.method} ${ctx.endpoint} (${f.shown}); check that provider.ollama.base_url points at Ollama and that Ollama is up to date.`,
  rateLimited: (f, ctx) => `Ollama at ${ctx.baseUrl} is rate-limiting requests (${f.shown}); wait and try again.`,
  serverError: (f) => `Ollama failed (${f.shown}); ${SERVER_LOG}.`,
  rejected: (f) => `Ollama rejected the request (${f.shown}).`,
};

/** A non-2xx HTTP response as a ProviderError. */
export function fromHttpStatus(status: number, headers: IncomingHttpHeaders, body: string, ctx: ErrorContext): ProviderError {
  return httpError(status, headers, body, ctx, TABLE);
}

/** An `{"error": ...}` line inside a 200 stream (Ollama reports failures after the header that way). */
export function fromStreamError(text: string, ctx: ErrorContext, partialText?: string): ProviderError {
  const base = { provider: PROVIDER, providerMessage: text, ...partialOf(partialText), ...errorFields(ctx) };
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
  // The same advice as the same text in an HTTP 500: the server log says why the runner failed.
  return new ProviderError({ ...base, code: 'server_error', message: `Ollama failed mid-response (${text}); ${SERVER_LOG}.` });
}

const UNREACHABLE_REGISTRY =
  /no such host|dial tcp|connection refused|i\/o timeout|network is unreachable|TLS handshake|certificate|timeout|\bEOF\b/i;

/** An `{"error": ...}` line during `pull`. */
export function fromPullError(text: string, ctx: ErrorContext & { model: string }): ProviderError {
  const model = ctx.model;
  const base = { provider: PROVIDER, providerMessage: text, ...errorFields(ctx) };
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
      // Says that Ollama itself answered, so nothing suggests starting it.
      hint: 'Ollama itself is running; the machine it runs on cannot reach the registry.',
    });
  }
  return new ProviderError({ ...base, code: 'server_error', message: `Pulling '${model}' failed: ${sentence(text)}` });
}
