/**
 * Incremental line splitting for newline-delimited bodies (NDJSON, and the line layer of SSE).
 *
 * Input is cut on the byte 0x0A and only then decoded, so a multi-byte UTF-8 character split
 * across two network chunks is never decoded in halves: no UTF-8 continuation byte can equal
 * 0x0A. The complete lines of a chunk are decoded with one native call and then cut with
 * `indexOf` on the string; only a line spanning chunks is joined (once, when its end arrives).
 */

const LF = 0x0a;
const CR = 0x0d;

/** Default upper bound of one line, so a peer that never sends a newline cannot exhaust memory. */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

/** Thrown when a line grows beyond the splitter's limit. */
export class LineTooLongError extends Error {
  /** The limit that was exceeded, in bytes. */
  readonly maxLineBytes: number;

  constructor(maxLineBytes: number) {
    super(`A line of the response exceeded ${maxLineBytes} bytes without a newline.`);
    this.name = 'LineTooLongError';
    this.maxLineBytes = maxLineBytes;
  }
}

/**
 * Pull-style splitter: `push(chunk)`, then call `next()` until it returns `undefined`, then push
 * the next chunk. At end of input, `end()` returns a last line that had no trailing newline.
 * Empty lines are skipped and a trailing `\r` is removed, so CRLF input works too.
 */
export class LineSplitter {
  private buf: Buffer | null = null;
  private pos = 0;
  private readonly parts: Buffer[] = [];
  private partBytes = 0;
  /** Complete lines decoded in one go (one native call per chunk, not per line), not yet returned. */
  private str = '';
  private sPos = 0;
  private hasStr = false;
  private readonly maxLineBytes: number;

  constructor(options?: { maxLineBytes?: number }) {
    this.maxLineBytes = options?.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  }

  /** Hands the splitter the next chunk of input. Lines of the previous chunk not yet taken are kept. */
  push(chunk: Buffer): void {
    if (this.buf !== null) this.stashRest();
    this.buf = chunk;
    this.pos = 0;
  }

  /** The next complete line of the input so far, or `undefined` when more input is needed. */
  next(): string | undefined {
    for (;;) {
      if (this.hasStr) {
        const str = this.str;
        const start = this.sPos;
        const nl = str.indexOf('\n', start);
        let end: number;
        if (nl === -1) {
          end = str.length;
          this.hasStr = false;
          this.str = '';
        } else {
          end = nl;
          this.sPos = nl + 1;
        }
        if (end > start && str.charCodeAt(end - 1) === CR) end--;
        if (end === start) continue;
        return str.slice(start, end);
      }
      const buf = this.buf;
      if (buf === null) return undefined;
      if (this.parts.length > 0) {
        // The first line of this chunk completes bytes held back from earlier chunks.
        const nl = buf.indexOf(LF, this.pos);
        if (nl === -1) {
          this.stashRest();
          return undefined;
        }
        this.parts.push(buf.subarray(this.pos, nl));
        const joined = Buffer.concat(this.parts, this.partBytes + (nl - this.pos));
        this.parts.length = 0;
        this.partBytes = 0;
        this.advance(buf, nl + 1);
        const line = decodeLine(joined);
        if (line !== '') return line;
        continue;
      }
      // Every complete line left in the chunk, decoded at once: cutting at the last 0x0A
      // never splits a UTF-8 character.
      const last = buf.lastIndexOf(LF);
      if (last < this.pos) {
        this.stashRest();
        return undefined;
      }
      if (last > this.pos) {
        this.str = buf.toString('utf8', this.pos, last);
        this.sPos = 0;
        this.hasStr = true;
      }
      this.advance(buf, last + 1);
    }
  }

  /** Ends the input: the last line if it had no newline (else `undefined`), and resets the splitter. */
  end(): string | undefined {
    if (this.buf !== null) this.stashRest();
    this.hasStr = false;
    this.str = '';
    if (this.parts.length === 0) return undefined;
    const joined = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.partBytes);
    this.parts.length = 0;
    this.partBytes = 0;
    const line = decodeLine(joined);
    return line === '' ? undefined : line;
  }

  /** Bytes held back waiting for a newline. */
  get pendingBytes(): number {
    return this.partBytes + (this.buf === null ? 0 : this.buf.length - this.pos);
  }

  private advance(buf: Buffer, to: number): void {
    if (to >= buf.length) {
      this.buf = null;
      this.pos = 0;
    } else {
      this.pos = to;
    }
  }

  private stashRest(): void {
    const buf = this.buf as Buffer;
    if (this.pos < buf.length) {
      const rest = this.pos === 0 ? buf : buf.subarray(this.pos);
      this.partBytes += rest.length;
      if (this.partBytes > this.maxLineBytes) {
        this.parts.length = 0;
        this.partBytes = 0;
        this.buf = null;
        throw new LineTooLongError(this.maxLineBytes);
      }
      this.parts.push(rest);
    }
    this.buf = null;
    this.pos = 0;
  }
}

function decodeLine(bytes: Buffer): string {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === CR) end--;
  return end === 0 ? '' : bytes.toString('utf8', 0, end);
}
