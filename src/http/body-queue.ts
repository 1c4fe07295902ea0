/**
 * A response body as a pull queue: undici's data callbacks push chunks in, the reader pulls
 * them out synchronously when they are there (`read()`), and waits only when nothing is
 * buffered. Above a high-water mark the socket is paused until the reader drains half of it.
 * The queue knows nothing about timers or the request: its {@link BodyOwner} does.
 */
import type { TransportError } from './errors.js';
import type { ResponseBody } from './transport.js';

/** The exchange a body belongs to: flow control, activity, and ending the request. */
export interface BodyOwner {
  /** Stops the socket (too much buffered). */
  pause(): void;
  /** Restarts the socket; the silence while paused was the reader's, not the server's. */
  resume(): void;
  /** Stops the request now. */
  cancel(): void;
  /** Gives the body up, letting the rest arrive within `graceMs` so the socket can be reused. */
  release(graceMs: number): void;
  /** True once the request has ended, failed or been cancelled. */
  readonly finished: boolean;
}

/** The body queue of one exchange. */
export class BodyQueue implements ResponseBody {
  private queue: (Buffer | undefined)[] = [];
  private qHead = 0;
  private queuedBytes = 0;
  private paused = false;
  private ended = false;
  private error: TransportError | null = null;
  private discarding = false;
  private waitResolve: ((b: Buffer | null) => void) | null = null;
  private waitReject: ((e: unknown) => void) | null = null;

  constructor(
    private readonly owner: BodyOwner,
    private readonly highWater: number,
  ) {}

  get finished(): boolean {
    return this.owner.finished;
  }

  /** True while chunks wait for the reader. */
  get hasBuffered(): boolean {
    return this.qHead < this.queue.length;
  }

  /** A chunk from the socket. */
  push(chunk: Buffer): void {
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
      this.owner.pause();
    }
  }

  /** The body ended normally. */
  end(): void {
    this.ended = true;
    const resolve = this.waitResolve;
    if (resolve !== null) {
      this.waitResolve = null;
      this.waitReject = null;
      resolve(null);
    }
  }

  /** The request failed; `immediate` drops buffered data, otherwise it is still delivered first. */
  fail(error: TransportError, immediate: boolean): void {
    this.error = error;
    if (immediate) this.clear();
    const reject = this.waitReject;
    if (reject !== null) {
      this.waitResolve = null;
      this.waitReject = null;
      reject(error);
    }
  }

  /** Drops everything buffered and everything still to come; resumes a paused socket so the rest can drain. */
  discard(): void {
    this.discarding = true;
    this.clear();
    if (this.paused) {
      this.paused = false;
      this.owner.resume();
    }
  }

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
        this.owner.resume();
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
    this.owner.cancel();
  }

  release(graceMs = 1000): void {
    this.owner.release(graceMs);
  }

  private clear(): void {
    this.queue.length = 0;
    this.qHead = 0;
    this.queuedBytes = 0;
  }
}
