/**
 * One request in flight: undici's dispatch handler and the phase timers. The response body is
 * its {@link BodyQueue}; the caller's signal is wired in `abort-signal.ts`.
 *
 * Timers: a single setTimeout is armed for the nearest deadline. Body chunks only record a
 * timestamp; when the timer fires it checks the real deadline and re-arms if activity moved
 * it. So a fast stream costs one `performance.now()` per chunk, not a timer reset.
 */
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Timeouts } from '../core/types.js';
import type { TimeoutPhase } from '../core/errors.js';
import { abortedError, listenForAbort } from './abort-signal.js';
import { BodyQueue } from './body-queue.js';
import type { BodyOwner } from './body-queue.js';
import { TransportError, errorCode, formatDuration } from './errors.js';
import type { HttpResponse } from './transport.js';

/** setTimeout's largest delay; longer waits re-arm. */
const MAX_DELAY = 2_147_483_647;

/** Where an exchange is: waiting for a socket, waiting for headers, reading the body, finished. */
type Phase = 0 | 1 | 2 | 3;
const CONNECT: Phase = 0;
const LOAD: Phase = 1;
const BODY: Phase = 2;
const DONE: Phase = 3;

/** The dispatch handler of one request, with its phase timers; its body is {@link body}. */
export class Exchange implements Dispatcher.DispatchHandler, BodyOwner {
  /** The response body handed to the caller. */
  readonly body: BodyQueue;
  private phase: Phase = CONNECT;
  private controller: Dispatcher.DispatchController | null = null;
  private readonly origin: string;
  private readonly t: Timeouts;
  private removeAbortListener: () => void;
  private error: TransportError | null = null;

  private resolveHeaders: ((r: HttpResponse) => void) | null = null;
  private rejectHeaders: ((e: unknown) => void) | null = null;

  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private readonly requestDeadline: number;
  private phaseDeadline: number;
  private lastActivity = 0;
  private discarding = false;
  private releaseDeadline = Infinity;

  constructor(origin: string, t: Timeouts, highWater: number, signal: AbortSignal | undefined) {
    this.origin = origin;
    this.t = t;
    this.body = new BodyQueue(this, highWater);
    const now = performance.now();
    this.requestDeadline = t.requestMs > 0 ? now + t.requestMs : Infinity;
    this.phaseDeadline = t.connectMs > 0 ? now + t.connectMs : Infinity;
    this.arm(Math.min(this.phaseDeadline, this.requestDeadline), now);
    this.removeAbortListener = signal === undefined ? noop : listenForAbort(signal, () => this.fail(abortedError(origin, signal), true));
  }

  /** Resolves when the response headers arrive; rejects with a {@link TransportError}. */
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

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (this.phase === DONE || statusCode < 200) return;
    this.controller = controller;
    this.phase = BODY;
    const now = performance.now();
    this.lastActivity = now;
    if (this.t.idleMs > 0) this.arm(Math.min(now + this.t.idleMs, this.requestDeadline), now);
    const resolve = this.resolveHeaders;
    this.resolveHeaders = null;
    this.rejectHeaders = null;
    resolve?.({ status: statusCode, headers, body: this.body });
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.phase !== BODY) return;
    this.lastActivity = performance.now();
    this.body.push(chunk);
  }

  onResponseEnd(): void {
    if (this.phase === DONE) return;
    this.finish();
    this.body.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    if (this.phase === DONE) return;
    this.fail(this.classify(err), false);
  }

  // ---- body owner -----------------------------------------------------------------------

  pause(): void {
    this.controller?.pause();
  }

  resume(): void {
    // The silence while we were paused was ours, not the server's.
    this.lastActivity = performance.now();
    this.controller?.resume();
  }

  cancel(): void {
    if (this.phase === DONE) return;
    this.fail(new TransportError('aborted', 'The response was cancelled by the caller.', { origin: this.origin }), true);
  }

  release(graceMs: number): void {
    if (this.phase === DONE) return;
    if (this.phase !== BODY) {
      this.cancel();
      return;
    }
    this.discarding = true;
    this.body.discard();
    const now = performance.now();
    this.releaseDeadline = now + graceMs;
    this.arm(this.releaseDeadline, now);
  }

  // ---- timers ---------------------------------------------------------------------------

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
        if (this.body.hasBuffered) this.lastActivity = now;
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
    this.body.fail(error, immediate);
    const controller = this.controller;
    if (controller !== null && !controller.aborted) controller.abort(error);
    const rejectHeaders = this.rejectHeaders;
    if (rejectHeaders !== null) {
      this.resolveHeaders = null;
      this.rejectHeaders = null;
      rejectHeaders(error);
    }
  }

  private finish(): void {
    this.phase = DONE;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
      this.timerAt = Infinity;
    }
    this.removeAbortListener();
    this.removeAbortListener = noop;
  }
}

function noop(): void {}
