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
import type { Timeouts } from '../core/types.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { abortedError } from './abort-signal.js';
import { TransportError } from './errors.js';
import { Exchange } from './exchange.js';

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
