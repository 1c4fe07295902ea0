/**
 * The wait a server asks for on a 429 or 503, from its headers. Kept in the transport layer
 * because every HTTP provider reads the same headers the same way.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Longest wait honoured; a server asking for more is treated as asking for this much. */
const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * Milliseconds to wait before retrying, from `retry-after-ms` (OpenAI's, milliseconds) or
 * `retry-after` (RFC 9110: delay in seconds, or an HTTP date). `undefined` when absent or invalid.
 * `now` is injectable so date parsing can be tested without a clock.
 */
export function retryAfterMs(headers: IncomingHttpHeaders, now: number = Date.now()): number | undefined {
  const ms = parseDelay(first(headers['retry-after-ms']), 1);
  if (ms !== undefined) return ms;
  const value = first(headers['retry-after']);
  if (value === undefined) return undefined;
  const seconds = parseDelay(value, 1000);
  if (seconds !== undefined) return seconds;
  // Only something that looks like a date: Date.parse accepts bare numbers too loosely.
  if (!/[a-z]/i.test(value)) return undefined;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, date - now));
}

function parseDelay(value: string | undefined, scale: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.round(Number(trimmed) * scale));
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
