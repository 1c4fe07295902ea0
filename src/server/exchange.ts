/**
 * One HTTP request/response of `omega serve` and the byte-level helpers every front end uses:
 * reading a bounded JSON body, answering with JSON or an error in the front end's shape, and a
 * stream writer that batches the pieces produced within one turn of the event loop into one
 * socket write (the per-chunk hot path), honouring backpressure.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientError, FrontEnd } from './errors.js';
import { HttpError, clientError, errorBody } from './errors.js';

/** Everything known about one request; the access log and metrics read it when it ends. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Per-process sequence number, also sent as `x-request-id`. */
  readonly id: string;
  /** `performance.now()` when the request arrived. */
  readonly started: number;
  /** The client's address (`ip:port` is not kept: the ip is what an operator needs). */
  readonly client: string;
  readonly path: string;
  /** Aborted when the client goes away or the server stops waiting for this request. */
  readonly signal: AbortSignal;
  frontEnd: FrontEnd;
  /** Bytes allowed in the body. */
  bodyLimit: number;
  provider?: string;
  model?: string;
  fallbackFrom?: string[];
  tokensIn?: number;
  tokensOut?: number;
  /** ms from arrival to the first byte written. */
  ttfbMs?: number;
  /** Error code when the request failed (also when it failed after the headers went out). */
  errorCode?: string;
  /** Set on a response that will stay open for long (streams); for the drain logic. */
  streaming?: boolean;
}

/** Notes the time to first byte, once. */
export function markFirstByte(ex: Exchange): void {
  if (ex.ttfbMs === undefined) ex.ttfbMs = performance.now() - ex.started;
}

/** The body as a Buffer, refusing more than `ex.bodyLimit` bytes with a 413. */
export function readBody(ex: Exchange): Promise<Buffer> {
  const { req } = ex;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > ex.bodyLimit) {
    return Promise.reject(tooLarge(ex.bodyLimit));
  }
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const onData = (part: Buffer): void => {
      size += part.length;
      if (size > ex.bodyLimit) {
        cleanup();
        // Stop reading; the error answer closes the connection (Connection: close).
        req.pause();
        reject(tooLarge(ex.bodyLimit));
        return;
      }
      parts.push(part);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onAborted = (): void => {
      cleanup();
      reject(new HttpError(499, 'The client closed the connection while sending the request.', 'aborted'));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      ex.signal.removeEventListener('abort', onAborted);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    ex.signal.addEventListener('abort', onAborted, { once: true });
  });
}

function tooLarge(limit: number): HttpError {
  const mib = (limit / (1024 * 1024)).toFixed(limit % (1024 * 1024) === 0 ? 0 : 2);
  return new HttpError(413, `The request body is larger than ${mib} MiB; send less, or raise [server] body_limit_mb.`, 'body_too_large');
}

/**
 * The body parsed as JSON. An empty body and malformed JSON are 400s in the front end's words
 * (Ollama says `missing request body`, as its own server does).
 */
export async function readJson(ex: Exchange): Promise<unknown> {
  const body = await readBody(ex);
  const text = body.toString('utf8');
  if (text.trim() === '') {
    throw new HttpError(400, ex.frontEnd === 'ollama' ? 'missing request body' : 'The request body is empty; send a JSON object.', 'invalid_json');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : 'invalid JSON';
    throw new HttpError(400, ex.frontEnd === 'ollama' ? detail : `The request body is not valid JSON (${detail}).`, 'invalid_json');
  }
}

/** The body as a JSON object, or a 400. */
export async function readJsonObject(ex: Exchange): Promise<Record<string, unknown>> {
  const value = await readJson(ex);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'The request body must be a JSON object.', 'invalid_json');
  }
  return value as Record<string, unknown>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** Answers with a JSON value. */
export function sendJson(ex: Exchange, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  markFirstByte(ex);
  ex.res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body), ...headers });
  ex.res.end(body);
}

/** Answers with plain text. */
export function sendText(ex: Exchange, status: number, text: string, headers: Record<string, string> = {}): void {
  markFirstByte(ex);
  ex.res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  ex.res.end(text);
}

/**
 * Answers with `error` in the front end's shape, unless the response has already started (the
 * stream writers report mid-stream failures in protocol themselves). Returns what was sent.
 */
export function sendError(ex: Exchange, error: unknown): ClientError {
  const e = clientError(error, ex.frontEnd);
  ex.errorCode ??= e.code;
  if (ex.res.headersSent || ex.res.destroyed) return e;
  const headers: Record<string, string> = {};
  if (e.retryAfterMs !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(e.retryAfterMs / 1000)));
  if (e.status === 413) headers.connection = 'close';
  if (e.status === 401) headers['www-authenticate'] = 'Bearer';
  sendJson(ex, e.status === 499 ? 400 : e.status, errorBody(ex.frontEnd, e), headers);
  return e;
}

/**
 * Writes a streamed body. The first piece goes out at once (time to first byte); later pieces
 * written in the same event-loop turn are joined into one write. {@link ready} resolves when
 * the client has room again, so a slow reader slows the upstream instead of filling memory.
 */
export class StreamWriter {
  private pending: string[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private blocked = false;
  private started = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly ex: Exchange,
    private readonly status: number,
    private readonly headers: Record<string, string>,
  ) {
    ex.streaming = true;
  }

  /** True once anything was written. */
  get headersSent(): boolean {
    return this.started;
  }

  /** Queues `text`. */
  write(text: string): void {
    const res = this.ex.res;
    if (res.destroyed || res.writableEnded) return;
    if (!this.started) {
      this.started = true;
      markFirstByte(this.ex);
      res.writeHead(this.status, this.headers);
      this.push(text);
      return;
    }
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes > 65536) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushLater);
    }
  }

  /** Resolves when the socket can take more (at once, unless the client is slow). */
  ready(): Promise<void> | undefined {
    if (!this.blocked || this.ex.res.destroyed) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Flushes and ends the response. */
  end(text?: string): void {
    if (text !== undefined) this.write(text);
    this.flush();
    const res = this.ex.res;
    if (!res.writableEnded && !res.destroyed) res.end();
    this.release();
  }

  private readonly flushLater = (): void => {
    this.scheduled = false;
    this.flush();
  };

  private flush(): void {
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.push(text);
  }

  private push(text: string): void {
    const res = this.ex.res;
    if (res.destroyed || res.writableEnded) return;
    if (!res.write(text) && !this.blocked) {
      this.blocked = true;
      res.once('drain', this.release);
      res.once('close', this.release);
    }
  }

  private readonly release = (): void => {
    this.blocked = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  };
}
