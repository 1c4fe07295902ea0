/**
 * The streamed `/api/chat` reader: NDJSON lines to {@link ChatChunk}s.
 *
 * Written as a hand-made AsyncIterator instead of an async generator because this is the
 * per-token hot path: when lines are already buffered, `next()` parses one and returns an
 * already-resolved promise, with none of an async generator's extra suspensions per item.
 * It only goes asynchronous when it has to wait for the network. That is why it does not use
 * the shared `readFrames` loop (an async generator), only its `settleBody` ending.
 */
import type { ChatChunk } from '../../core/types.js';
import type { Logger } from '../../core/logger.js';
import type { HttpResponse, ResponseBody } from '../../http/transport.js';
import { LineSplitter } from '../../http/ndjson.js';
import { settleBody } from '../shared/stream-body.js';
import type { ErrorContext } from './errors.js';
import { errorValueText, fromStreamError, protocolError, toProviderError } from './errors.js';
import { fastContentChunk, toChunk } from './wire.js';
import type { WireChatResponse } from './types.js';

const DONE: IteratorResult<ChatChunk> = Object.freeze({ value: undefined, done: true }) as IteratorResult<ChatChunk>;

/**
 * Iterates one streamed chat. The request is sent on the first `next()`; `return()` (leaving a
 * `for await` early) cancels it, or, when the final chunk was already seen, lets the last bytes
 * arrive so the connection can be reused.
 */
export class ChatStreamIterator implements AsyncIterableIterator<ChatChunk> {
  private body: ResponseBody | null = null;
  private readonly splitter = new LineSplitter();
  /** Content so far, for `partialText` when the stream fails. */
  private text = '';
  private sawDone = false;
  private ended = false;
  private finished = false;
  private inSlow = false;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly open: () => Promise<HttpResponse>,
    private readonly model: string,
    private readonly ctx: ErrorContext,
    private readonly logger: Logger,
    /** Sees (and may add to) the final chunk before it is returned. */
    private readonly onFinal?: (chunk: ChatChunk) => void,
  ) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<ChatChunk> {
    return this;
  }

  next(): Promise<IteratorResult<ChatChunk>> {
    // Calls made while one is waiting on the network run after it, in order.
    if (this.inSlow) return this.tail.then(() => this.next());
    if (this.finished) return Promise.resolve(DONE);
    if (this.body !== null) {
      let result: IteratorResult<ChatChunk> | undefined;
      try {
        result = this.step();
      } catch (error) {
        this.close();
        return Promise.reject(error);
      }
      if (result !== undefined) return Promise.resolve(result);
    }
    this.inSlow = true;
    const p = this.nextSlow();
    this.tail = p.then(noop, noop);
    return p;
  }

  return(): Promise<IteratorResult<ChatChunk>> {
    this.close();
    return Promise.resolve(DONE);
  }

  /** Produces the next result from buffered data, or `undefined` when it must wait for more. */
  private step(): IteratorResult<ChatChunk> | undefined {
    const body = this.body as ResponseBody;
    for (;;) {
      let line: string | undefined;
      try {
        line = this.splitter.next();
      } catch (error) {
        throw toProviderError(error, this.ctx, this.text);
      }
      if (line !== undefined) return { value: this.parse(line), done: false };
      if (this.ended) return this.finish();
      let buf: Buffer | null | undefined;
      try {
        buf = body.read();
      } catch (error) {
        // A connection dropped after the final chunk loses nothing.
        if (this.sawDone) {
          this.ended = true;
          continue;
        }
        throw toProviderError(error, this.ctx, this.text);
      }
      if (buf === undefined) return undefined;
      const tail = this.accept(buf);
      if (tail !== undefined) return tail;
    }
  }

  private async nextSlow(): Promise<IteratorResult<ChatChunk>> {
    try {
      if (this.body === null) {
        const res = await this.open();
        if (this.finished) {
          res.body.cancel();
          return DONE;
        }
        this.body = res.body;
      }
      for (;;) {
        const result = this.step();
        if (result !== undefined) return result;
        let buf: Buffer | null;
        try {
          buf = await this.body.wait();
        } catch (error) {
          if (this.finished) return DONE;
          if (this.sawDone) {
            this.ended = true;
            continue;
          }
          throw toProviderError(error, this.ctx, this.text);
        }
        if (this.finished) return DONE;
        const tail = this.accept(buf);
        if (tail !== undefined) return tail;
      }
    } catch (error) {
      if (this.finished) return DONE;
      this.close();
      throw error;
    } finally {
      this.inSlow = false;
    }
  }

  /** Takes a chunk (or the end, `null`); returns a result only for a last line without a newline. */
  private accept(buf: Buffer | null): IteratorResult<ChatChunk> | undefined {
    if (buf !== null) {
      try {
        this.splitter.push(buf);
      } catch (error) {
        throw toProviderError(error, this.ctx, this.text);
      }
      return undefined;
    }
    this.ended = true;
    const last = this.splitter.end();
    return last === undefined ? undefined : { value: this.parse(last), done: false };
  }

  private parse(line: string): ChatChunk {
    const fast = fastContentChunk(line);
    if (fast !== undefined) {
      if (fast.content !== '') this.text += fast.content;
      return fast;
    }
    let obj: WireChatResponse;
    try {
      obj = JSON.parse(line) as WireChatResponse;
    } catch (cause) {
      throw protocolError('a line that is not JSON', this.ctx, cause, this.text);
    }
    if (typeof obj !== 'object' || obj === null) {
      throw protocolError('a line that is not a JSON object', this.ctx, undefined, this.text);
    }
    if (obj.error !== undefined) throw fromStreamError(errorValueText(obj.error) ?? 'unknown error', this.ctx, this.text);
    const chunk = toChunk(obj, this.model);
    if (chunk.content !== '') this.text += chunk.content;
    if (chunk.done) {
      this.sawDone = true;
      this.onFinal?.(chunk);
    }
    return chunk;
  }

  /** End of body: one synthetic final chunk if Ollama never sent `done`, then the end. */
  private finish(): IteratorResult<ChatChunk> {
    if (!this.sawDone) {
      this.sawDone = true;
      this.logger.debug({ model: this.model }, 'ollama stream ended without done');
      return { value: { content: '', done: true, doneReason: 'incomplete', model: this.model }, done: false };
    }
    this.finished = true;
    return DONE;
  }

  private close(): void {
    if (this.finished) return;
    this.finished = true;
    // After the final chunk only the end of the body is missing: let it arrive so the socket is reused.
    if (this.body !== null) settleBody(this.body, this.sawDone);
  }
}

function noop(): void {}
