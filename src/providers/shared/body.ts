/**
 * Reading an error body once for every provider: JSON in the provider's own shape, or an HTML
 * page or plain text summarised to one line. Secrets are removed before anything is shortened,
 * so a key that crosses the cut can never be printed in part.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** A provider's reading of its JSON error shape. */
export interface JsonErrorInfo {
  /** Human-readable text ('' when the body had none). */
  message: string;
  /** The API's error type (`rate_limit_error`, `invalid_request_error`, ...), when given. */
  type?: string;
  /** The API's machine code (`model_not_found`, `429`, ...), when given. */
  code?: string;
  /** A URL the API gives for the next step (Ollama's `signin_url`), when given. */
  link?: string;
}

/** An error body as the status ladder sees it. */
export interface ErrorBody extends JsonErrorInfo {
  /** True when the body was a JSON error in the provider's shape. */
  json: boolean;
}

/** How one provider's error bodies are read. */
export interface BodyReading {
  /** The provider's error in a parsed JSON body, or `undefined` when the body is not one. */
  fromJson: (value: unknown) => JsonErrorInfo | undefined;
  /** Removes secrets from server text; always applied before shortening. */
  redact: (text: string) => string;
  /** Longest summary of a non-JSON body, in characters (including the `...`). */
  maxChars: number;
  /** Also collapse and shorten a JSON error's message (Anthropic's can be long). */
  shortenJson?: boolean;
}

/** `text` ending in a full stop (or the `!`/`?` it already has). */
export function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** One header's first value. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `text` redacted, on one line, and at most `maxChars` long: redaction comes first. */
export function redactAndShorten(text: string, redact: (text: string) => string, maxChars: number): string {
  const one = redact(text).replace(/\s+/g, ' ').trim();
  return one.length > maxChars ? `${one.slice(0, maxChars - 3)}...` : one;
}

/** The readable text of a non-JSON body: an HTML page's title (or its text), or the body itself. */
export function bodyText(body: string, contentType: string | undefined): string {
  if (/html/i.test(contentType ?? '') || /^\s*<(!doctype|html|head|body)/i.test(body)) {
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(body);
    return title?.[1] !== undefined && title[1].trim() !== '' ? title[1] : body.replace(/<[^>]*>/g, ' ');
  }
  return body;
}

/** Reads an error response body the way `reading` describes. */
export function readErrorBody(body: string, contentType: string | undefined, reading: BodyReading): ErrorBody {
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    let ok = false;
    try {
      parsed = JSON.parse(trimmed);
      ok = true;
    } catch {
      // not JSON after all: summarised below
    }
    const info = ok ? reading.fromJson(parsed) : undefined;
    if (info !== undefined) {
      const message = reading.shortenJson
        ? redactAndShorten(info.message, reading.redact, reading.maxChars)
        : reading.redact(info.message);
      return { ...info, message, json: true };
    }
  }
  return { message: redactAndShorten(bodyText(trimmed, contentType), reading.redact, reading.maxChars), json: false };
}
