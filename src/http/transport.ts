/**
 * The HTTP transport every network provider uses: one keep-alive undici `Pool` per origin,
 * per-phase timeouts, per-request cancellation, and a pull-based response body with no
 * stream machinery between the socket and the parser.
 *
 * Why not `fetch` or `undici.request`: both sit a Readable stream (or a WHATWG stream) between
 * the socket and the caller, and both let undici's own 300 s headers/body timers run. Here the
 * request is dispatched with a bare handler whose callbacks feed a small queue, and our own
 * phase timers replace undici's (which are set to 0).
 */
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Timeouts } from '../core/types.js';
import type { TimeoutPhase } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { TransportError, errorCode, formatDuration } from './errors.js';

/** undici's connector hook (`Pool` option `connect`), exposed so tests can simulate a hanging connect. */
export type Connector = Pool.Options['connect'];

/** Options of {@link HttpTransport}. */
export interface HttpTransportOptions {
  /** Default phase timeouts for every request; `0` disables a phase. */
  timeouts: Timeouts;
  logger?: Logger;
  /** Maximum sockets per origin; unlimited by default so concurrent streams never queue. */
  connections?: number;
  /** How long an idle keep-alive socket is kept; undici's default (4 s) otherwise. */
  keepAliveTimeoutMs?: number;
  /** Replaces undici's socket connector (custom TLS, tests). */
  connect?: Connector;
  /** Body bytes buffered ahead of a slow consumer before the socket is paused. */
  highWaterMark?: number;
}

/** One HTTP request. */
export interface HttpRequest {
  /** `scheme://host:port`, no path. Requests to one origin share one pool. */
  origin: string;
  /** Path and query, starting with `/`. */
  path: string;
  method: 'GET' | 'POST' | 'DELETE' | 'HEAD' | 'PUT' | 'PATCH';
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Cancels this request only. */
  signal?: AbortSignal;
  /** Overrides the transport's timeouts for this request. */
  timeouts?: Partial<Timeouts>;
}

/** A response whose headers have arrived; the body is read from {@link ResponseBody}. */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: ResponseBody;
}

/**
 * A response body, read by pulling. The fast path is `read()` (synchronous: a chunk, `null`
 * at the end, `undefined` when nothing is buffered yet) and `wait()` only when it returned
 * `undefined`; this avoids a promise per chunk when data is already buffered.
 */
export interface ResponseBody extends AsyncIterable<Buffer> {
  /** A buffered chunk, `null` at the end, or `undefined` if nothing has arrived yet. Throws a {@link TransportError} on failure. */
  read(): Buffer | null | undefined;
  /** The next chunk, or `null` at the end; rejects with a {@link TransportError}. */
  wait(): Promise<Buffer | null>;
  /** The whole remaining body. */
  bytes(): Promise<Buffer>;
  /** The whole remaining body, decoded as UTF-8. */
  text(): Promise<string>;
  /** Stops the request now (the socket is closed). Safe to call at any time, also after the end. */
  cancel(): void;
  /**
   * Gives the body up without needing the rest: the remainder is discarded so the socket can be
   * reused, but the request is cut off if it does not end within `graceMs`.
   */
  release(graceMs?: number): void;
  /** True once the body has ended, failed or been cancelled. */
  readonly finished: boolean;
}

const DEFAULT_HIGH_WATER = 64 * 1024;
/** setTimeout's largest delay; longer waits re-arm. */
const MAX_DELAY = 2_147_483_647;

/** Where an exchange is: waiting for a socket, waiting for headers, reading the body, finished. */
type Phase = 0 | 1 | 2 | 3;
const CONNECT: Phase = 0;
const LOAD: Phase = 1;
const BODY: Phase = 2;
const DONE: Phase = 3;

/** Keep-alive HTTP client: one pool per origin, phase timeouts, per-request cancellation. */
export class HttpTransport {
  private readonly pools = new Map<string, Pool>();
  private readonly options: HttpTransportOptions;
  private readonly logger: Logger;
  private closed = false;

  constructor(options: HttpTransportOptions) {
    this.options = options;
    this.logger = options.logger ?? silentLogger;
  }

  /** The transport's default timeouts. */
  get timeouts(): Timeouts {
    return this.options.timeouts;
  }

  /** Number of origins with an open pool. */
  get poolCount(): number {
    return this.pools.size;
  }

  /**
   * Sends a request and resolves once the response headers arrive (any status). Rejects with a
   * {@link TransportError} on connect failure, timeout, cancellation or a broken connection.
   */
  request(req: HttpRequest): Promise<HttpResponse> {
    const t = req.timeouts === undefined ? this.options.timeouts : { ...this.options.timeouts, ...req.timeouts };
    if (this.closed) {
      return Promise.reject(new TransportError('closed', 'The HTTP client was closed.', { origin: req.origin }));
    }
    if (req.signal?.aborted) {
      return Promise.reject(abortedError(req.origin, req.signal));
    }
    const exchange = new Exchange(req.origin, t, this.options.highWaterMark ?? DEFAULT_HIGH_WATER, req.signal);
    const promise = exchange.headers();
    const opts: Dispatcher.DispatchOptions = {
      method: req.method,
      path: req.path,
      headers: req.headers,
      body: req.body,
    };
    try {
      this.pool(req.origin).dispatch(opts, exchange);
    } catch (error) {
      exchange.onResponseError(null, error as Error);
    }
    return promise;
  }

  /**
   * Closes every pool at once: idle sockets are released and requests still in flight fail with
   * a `closed` {@link TransportError}, so a process can exit immediately afterwards.
   */
  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      const { connectMs } = this.options.timeouts;
      pool = new Pool(origin, {
        // Our phase timers replace these; undici's 300 s defaults would kill a cold model load.
        headersTimeout: 0,
        bodyTimeout: 0,
        connections: this.options.connections ?? null,
        ...(this.options.keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeout: this.options.keepAliveTimeoutMs }),
        // A safety net below our own connect timer: it also tears down the socket attempt itself.
        connect: this.options.connect ?? { timeout: connectMs > 0 ? connectMs : 0 },
      });
      pool.on('connectionError', (_origin, _targets, error) => {
        this.logger.debug({ origin, err: error.message }, 'connection failed');
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }
}

function abortedError(origin: string, signal: AbortSignal): TransportError {
  return new TransportError('aborted', 'The request was cancelled.', { origin, cause: signal.reason });
}

/**
 * One request in flight: undici's dispatch handler, the phase timers, and the response body.
 *
 * Timers: a single setTimeout is armed for the nearest deadline. Body chunks only record a
 * timestamp; when the timer fires it checks the real deadline and re-arms if activity moved
 * it. So a fast stream costs one `performance.now()` per chunk, not a timer reset.
 */
class Exchange implements Dispatcher.DispatchHandler, ResponseBody {
  private phase: Phase = CONNECT;
  private controller: Dispatcher.DispatchController | null = null;
  private readonly origin: string;
  private readonly t: Timeouts;
  private readonly highWater: number;
  private signal: AbortSignal | undefined;
  private onAbort: (() => void) | null = null;

  private resolveHeaders: ((r: HttpResponse) => void) | null = null;
  private rejectHeaders: ((e: unknown) => void) | null = null;

  private queue: (Buffer | undefined)[] = [];
  private qHead = 0;
  private queuedBytes = 0;
  private paused = false;
  private ended = false;
  private error: TransportError | null = null;
  private discarding = false;
  private waitResolve: ((b: Buffer | null) => void) | null = null;
  private waitReject: ((e: unknown) => void) | null = null;

  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private readonly requestDeadline: number;
  private phaseDeadline: number;
  private lastActivity = 0;
  private releaseDeadline = Infinity;

  constructor(origin: string, t: Timeouts, highWater: number, signal: AbortSignal | undefined) {
    this.origin = origin;
    this.t = t;
    this.highWater = highWater;
    const now = performance.now();
    this.requestDeadline = t.requestMs > 0 ? now + t.requestMs : Infinity;
    this.phaseDeadline = t.connectMs > 0 ? now + t.connectMs : Infinity;
    this.arm(Math.min(this.phaseDeadline, this.requestDeadline), now);
    if (signal !== undefined) {
      this.signal = signal;
      this.onAbort = () => this.fail(abortedError(this.origin, signal), true);
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  headers(): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      this.resolveHeaders = resolve;
      this.rejectHeaders = reject;
    });
  }

  get finished(): boolean {
    return this.phase === DONE;
  }

  // ---- undici handler -------------------------------------------------------------------

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.phase === DONE) {
      // Cancelled or timed out while waiting for a socket: stop before anything is sent.
      controller.abort(this.error ?? new Error('cancelled'));
      return;
    }
    this.controller = controller;
    this.phase = LOAD;
    const now = performance.now();
    this.phaseDeadline = this.t.loadMs > 0 ? now + this.t.loadMs : Infinity;
    this.arm(Math.min(this.phaseDeadline, this.requestDeadline), now);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (this.phase === DONE || statusCode < 200) return;
    this.controller = controller;
    this.phase = BODY;
    const now = performance.now();
    this.lastActivity = now;
    if (this.t.idleMs > 0) this.arm(Math.min(now + this.t.idleMs, this.requestDeadline), now);
    const resolve = this.resolveHeaders;
    this.resolveHeaders = null;
    this.rejectHeaders = null;
    resolve?.({ status: statusCode, headers, body: this });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.phase !== BODY) return;
    this.lastActivity = performance.now();
    if (this.discarding) return;
    const resolve = this.waitResolve;
    if (resolve !== null) {
      this.waitResolve = null;
      this.waitReject = null;
      resolve(chunk);
      return;
    }
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > this.highWater && !this.paused) {
      this.paused = true;
      controller.pause();
    }
  }

  onResponseEnd(): void {
    if (this.phase === DONE) return;
    this.ended = true;
    this.finish();
    const resolve = this.waitResolve;
    if (resolve !== null) {
      this.waitResolve = null;
      this.waitReject = null;
      resolve(null);
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    if (this.phase === DONE) return;
    this.fail(this.classify(err), false);
  }

  // ---- body -----------------------------------------------------------------------------

  read(): Buffer | null | undefined {
    if (this.qHead < this.queue.length) {
      const chunk = this.queue[this.qHead] as Buffer;
      this.queue[this.qHead++] = undefined;
      if (this.qHead === this.queue.length) {
        this.queue.length = 0;
        this.qHead = 0;
      }
      this.queuedBytes -= chunk.length;
      if (this.paused && this.queuedBytes <= this.highWater >>> 1) {
        this.paused = false;
        // The silence while we were paused was ours, not the server's.
        this.lastActivity = performance.now();
        this.controller?.resume();
      }
      return chunk;
    }
    if (this.error !== null) throw this.error;
    if (this.ended) return null;
    return undefined;
  }

  wait(): Promise<Buffer | null> {
    let chunk: Buffer | null | undefined;
    try {
      chunk = this.read();
    } catch (error) {
      return Promise.reject(error);
    }
    if (chunk !== undefined) return Promise.resolve(chunk);
    return new Promise<Buffer | null>((resolve, reject) => {
      this.waitResolve = resolve;
      this.waitReject = reject;
    });
  }

  async bytes(): Promise<Buffer> {
    const parts: Buffer[] = [];
    let total = 0;
    for (;;) {
      let chunk = this.read();
      if (chunk === undefined) chunk = await this.wait();
      if (chunk === null) break;
      parts.push(chunk);
      total += chunk.length;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total);
  }

  async text(): Promise<string> {
    return (await this.bytes()).toString('utf8');
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    try {
      for (;;) {
        let chunk = this.read();
        if (chunk === undefined) chunk = await this.wait();
        if (chunk === null) return;
        yield chunk;
      }
    } finally {
      this.cancel();
    }
  }

  cancel(): void {
    if (this.phase === DONE) return;
    this.fail(new TransportError('aborted', 'The response was cancelled by the caller.', { origin: this.origin }), true);
  }

  release(graceMs = 1000): void {
    if (this.phase === DONE) return;
    if (this.phase !== BODY) {
      this.cancel();
      return;
    }
    this.discarding = true;
    this.queue.length = 0;
    this.qHead = 0;
    this.queuedBytes = 0;
    if (this.paused) {
      this.paused = false;
      this.controller?.resume();
    }
    const now = performance.now();
    this.releaseDeadline = now + graceMs;
    this.arm(this.releaseDeadline, now);
  }

  // ---- internals ------------------------------------------------------------------------

  /** Makes sure a timer fires no later than `at` (a performance.now() time). */
  private arm(at: number, now: number): void {
    if (at === Infinity || at >= this.timerAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, Math.min(Math.max(0, Math.ceil(at - now)), MAX_DELAY));
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerAt = Infinity;
    if (this.phase === DONE) return;
    const now = performance.now();
    if (this.discarding) {
      if (now >= this.releaseDeadline) {
        this.fail(new TransportError('aborted', 'The response was released before it ended.', { origin: this.origin }), true);
      } else {
        this.arm(this.releaseDeadline, now);
      }
      return;
    }
    if (now >= this.requestDeadline) {
      this.fail(this.timeout('request', this.t.requestMs), true);
      return;
    }
    let next: number;
    if (this.phase === BODY) {
      if (this.t.idleMs <= 0) {
        next = this.requestDeadline;
      } else {
        // Data waiting for the consumer means the server is not the one being silent.
        if (this.qHead < this.queue.length) this.lastActivity = now;
        const idleAt = this.lastActivity + this.t.idleMs;
        if (now >= idleAt) {
          this.fail(this.timeout('idle', this.t.idleMs), true);
          return;
        }
        next = Math.min(idleAt, this.requestDeadline);
      }
    } else {
      if (now >= this.phaseDeadline) {
        const connect = this.phase === CONNECT;
        this.fail(this.timeout(connect ? 'connect' : 'load', connect ? this.t.connectMs : this.t.loadMs), true);
        return;
      }
      next = Math.min(this.phaseDeadline, this.requestDeadline);
    }
    this.arm(next, now);
  };

  private timeout(phase: TimeoutPhase, ms: number): TransportError {
    const what =
      phase === 'connect'
        ? 'connecting'
        : phase === 'load'
          ? 'waiting for the response to start'
          : phase === 'idle'
            ? 'waiting for the next part of the response'
            : 'the whole request';
    return new TransportError('timeout', `Timed out after ${formatDuration(ms)} ${what}.`, {
      origin: this.origin,
      phase,
      timeoutMs: ms,
    });
  }

  private classify(err: Error): TransportError {
    const origin = this.origin;
    if (err instanceof TransportError) return err;
    const code = errorCode(err);
    if (code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_CLOSED') {
      return new TransportError('closed', 'The HTTP client was closed.', { origin, cause: err });
    }
    if (code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new TransportError('timeout', `Timed out after ${formatDuration(this.t.connectMs)} connecting.`, {
        origin,
        phase: 'connect',
        timeoutMs: this.t.connectMs,
        cause: err,
      });
    }
    if (this.phase === CONNECT) {
      return new TransportError('unreachable', `Could not connect to ${origin}: ${err.message}`, { origin, cause: err });
    }
    if (
      err.name === 'HTTPParserError' ||
      (code !== undefined && (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === 'UND_ERR_NOT_SUPPORTED'))
    ) {
      return new TransportError('protocol', `The server at ${origin} sent an invalid HTTP response: ${err.message}`, {
        origin,
        cause: err,
      });
    }
    return new TransportError('connection_lost', `The connection to ${origin} was lost: ${err.message}`, {
      origin,
      cause: err,
    });
  }

  /**
   * Ends the exchange with `error`. `immediate` drops buffered data (cancellation, timeouts);
   * otherwise buffered chunks are still delivered before the error.
   */
  private fail(error: TransportError, immediate: boolean): void {
    if (this.phase === DONE) return;
    this.error = error;
    this.finish();
    if (immediate) {
      this.queue.length = 0;
      this.qHead = 0;
      this.queuedBytes = 0;
    }
    const controller = this.controller;
    if (controller !== null && !controller.aborted) controller.abort(error);
    const rejectHeaders = this.rejectHeaders;
    if (rejectHeaders !== null) {
      this.resolveHeaders = null;
      this.rejectHeaders = null;
      rejectHeaders(error);
    }
    const rejectWait = this.waitReject;
    if (rejectWait !== null) {
      this.waitResolve = null;
      this.waitReject = null;
      rejectWait(error);
    }
  }

  private finish(): void {
    this.phase = DONE;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
      this.timerAt = Infinity;
    }
    if (this.onAbort !== null) {
      this.signal?.removeEventListener('abort', this.onAbort);
      this.onAbort = null;
      this.signal = undefined;
    }
  }
}

/**
 * A provider's timeouts: `defaults` overridden by every valid phase of `overrides` (a finite
 * number of milliseconds, 0 or more). Invalid or missing phases keep their default, so a
 * caller's partial or sloppy object can never switch a limit off by accident.
 */
export function resolveTimeouts(defaults: Timeouts, overrides: Partial<Timeouts> | undefined): Readonly<Timeouts> {
  const out: Timeouts = { ...defaults };
  if (overrides !== undefined) {
    for (const key of ['connectMs', 'loadMs', 'idleMs', 'requestMs'] as const) {
      const v = overrides[key];
      if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[key] = v;
    }
  }
  return Object.freeze(out);
}
