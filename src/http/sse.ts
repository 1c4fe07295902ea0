/**
 * Incremental Server-Sent Events parsing, following the WHATWG/W3C event-stream rules.
 *
 * Bytes go through one `StringDecoder` per stream, which holds back an incomplete UTF-8
 * sequence until its last byte arrives, so a chunk may end anywhere, also inside a character.
 * Lines are then cut with native `indexOf` on the decoded text; only a line spanning chunks is
 * joined. Line endings may be CRLF, LF or CR, also when a CRLF pair is split across chunks.
 */
import { StringDecoder } from 'node:string_decoder';
import { DEFAULT_MAX_LINE_BYTES, LineTooLongError } from './ndjson.js';

/** One dispatched event. */
export interface SseEvent {
  /** The `event:` field, `'message'` when the event had none. */
  event: string;
  /** The `data:` lines of the event joined with `\n`. */
  data: string;
  /** The last event id seen on the stream (ids persist across events, as in browsers), when one was set. */
  id?: string;
  /** A `retry:` value (milliseconds) received since the previous event. */
  retry?: number;
}

/** Options of {@link SseParser}. */
export interface SseParserOptions {
  /**
   * Upper bound, in characters, of one line and of one event's data, so a peer that never ends a
   * line or an event cannot exhaust memory. 16 Mi by default.
   */
  maxEventSize?: number;
}

const LF = 10;

/**
 * Push-style parser: `push(chunk)` returns the events the chunk completed, `end()` those left
 * at the end of the stream.
 *
 * One deliberate departure from the spec: at end of stream an event whose blank line never came
 * is still dispatched (the spec discards it). Servers and proxies that drop the final blank line
 * exist, and losing a last `[DONE]` or error event would be worse than dispatching it.
 */
export class SseParser {
  private decoder = new StringDecoder('utf8');
  /** Start of a line that has not ended yet. */
  private pending = '';
  /** A chunk ended with CR: a LF starting the next chunk belongs to the same line ending. */
  private skipLF = false;
  private bomChecked = false;

  private data = '';
  private hasData = false;
  private eventType = '';
  private lastId = '';
  private retryMs: number | undefined = undefined;
  private retryChanged = false;
  private readonly maxSize: number;

  constructor(options?: SseParserOptions) {
    this.maxSize = options?.maxEventSize ?? DEFAULT_MAX_LINE_BYTES;
  }

  /** The reconnection time the stream last asked for, in milliseconds. */
  get retry(): number | undefined {
    return this.retryMs;
  }

  /** The last event id of the stream (`''` when none). */
  get lastEventId(): string {
    return this.lastId;
  }

  /** Feeds the next chunk of the body; returns the events it completed (often none). */
  push(chunk: Uint8Array): SseEvent[] {
    const out: SseEvent[] = [];
    this.feed(this.decoder.write(chunk as Buffer), out);
    return out;
  }

  /** Ends the stream: flushes an unterminated last line and event, then resets the parser for reuse. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    this.feed(this.decoder.end(), out);
    if (this.pending !== '') {
      const line = this.pending;
      this.pending = '';
      this.line(line, out);
    }
    this.dispatch(out);
    this.decoder = new StringDecoder('utf8');
    this.skipLF = false;
    this.bomChecked = false;
    this.eventType = '';
    this.lastId = '';
    this.retryMs = undefined;
    this.retryChanged = false;
    return out;
  }

  private feed(text: string, out: SseEvent[]): void {
    if (text.length === 0) return;
    let pos = 0;
    if (!this.bomChecked) {
      this.bomChecked = true;
      if (text.charCodeAt(0) === 0xfeff) pos = 1;
    }
    if (this.skipLF) {
      this.skipLF = false;
      if (text.charCodeAt(pos) === LF) pos++;
    }
    const len = text.length;
    // Next LF and CR positions are found natively and cached until the scan passes them.
    let lf = text.indexOf('\n', pos);
    let cr = text.indexOf('\r', pos);
    while (pos < len) {
      if (lf !== -1 && lf < pos) lf = text.indexOf('\n', pos);
      if (cr !== -1 && cr < pos) cr = text.indexOf('\r', pos);
      let end: number;
      let next: number;
      if (cr === -1 || (lf !== -1 && lf < cr)) {
        if (lf === -1) break;
        end = lf;
        next = lf + 1;
      } else {
        end = cr;
        if (cr + 1 < len) {
          next = text.charCodeAt(cr + 1) === LF ? cr + 2 : cr + 1;
        } else {
          next = len;
          this.skipLF = true;
        }
      }
      let line = text.slice(pos, end);
      if (this.pending !== '') {
        line = this.pending + line;
        this.pending = '';
      }
      this.line(line, out);
      pos = next;
    }
    if (pos < len) {
      this.pending = pos === 0 && this.pending === '' ? text : this.pending + text.slice(pos);
      if (this.pending.length > this.maxSize) {
        this.pending = '';
        throw new LineTooLongError(this.maxSize);
      }
    }
  }

  private line(line: string, out: SseEvent[]): void {
    if (line.length === 0) {
      this.dispatch(out);
      return;
    }
    const colon = line.indexOf(':');
    if (colon === 0) return; // comment (often a keep-alive)
    let field: string;
    let value: string;
    if (colon === -1) {
      field = line;
      value = '';
    } else {
      field = line.slice(0, colon);
      const start = line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1;
      value = line.slice(start);
    }
    switch (field) {
      case 'data':
        if (this.hasData) {
          this.data += '\n' + value;
          if (this.data.length > this.maxSize) {
            this.data = '';
            this.hasData = false;
            throw new LineTooLongError(this.maxSize);
          }
        } else {
          this.data = value;
          this.hasData = true;
        }
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) {
          this.retryMs = Number(value);
          this.retryChanged = true;
        }
        break;
      default:
        // Unknown fields are ignored, as the spec requires.
        break;
    }
  }

  private dispatch(out: SseEvent[]): void {
    if (!this.hasData) {
      // A blank line without data resets the event type but dispatches nothing.
      this.eventType = '';
      return;
    }
    const event: SseEvent = { event: this.eventType === '' ? 'message' : this.eventType, data: this.data };
    if (this.lastId !== '') event.id = this.lastId;
    if (this.retryChanged && this.retryMs !== undefined) {
      event.retry = this.retryMs;
      this.retryChanged = false;
    }
    out.push(event);
    this.data = '';
    this.hasData = false;
    this.eventType = '';
  }
}

/** The events of an SSE body. Leaving the loop early returns (and so cancels) the source iterator. */
export async function* parseSse(body: AsyncIterable<Uint8Array>, options?: SseParserOptions): AsyncGenerator<SseEvent> {
  const parser = new SseParser(options);
  for await (const chunk of body) {
    const events = parser.push(chunk);
    for (let i = 0; i < events.length; i++) yield events[i] as SseEvent;
  }
  yield* parser.end();
}

