/**
 * The one body-reading loop of streamed answers: read a chunk, split it into frames (NDJSON
 * lines, SSE events), hand them on, and at the end release the body (the answer was complete,
 * so the socket can be reused) or cancel it. Failures are mapped by the caller's function, so
 * they carry the caller's wording and the text received so far.
 *
 * Ollama's chat stream does not go through {@link readFrames}: it is the per-token hot path and
 * keeps a hand-written synchronous iterator; it shares {@link settleBody}.
 */
import type { ResponseBody } from '../../http/transport.js';
import { LineSplitter } from '../../http/ndjson.js';

/** Splits body bytes into frames. */
export interface Framer<T> {
  /** The frames completed by `chunk`. */
  push(chunk: Buffer): T[];
  /** The frames left at the end of the body. */
  end(): T[];
}

/** What {@link readFrames} needs from its caller. */
export interface FrameLoopOptions {
  /** Maps a read or split failure to the error to throw (with the text received so far). */
  fail: (error: unknown) => unknown;
  /** True once the answer is complete: a connection lost after that loses nothing and ends the loop. */
  complete: () => boolean;
}

/** NDJSON lines as a {@link Framer}. */
export function lineFramer(splitter: LineSplitter = new LineSplitter()): Framer<string> {
  return {
    push(chunk) {
      splitter.push(chunk);
      const lines: string[] = [];
      for (let line = splitter.next(); line !== undefined; line = splitter.next()) lines.push(line);
      return lines;
    },
    end() {
      const last = splitter.end();
      return last === undefined ? [] : [last];
    },
  };
}

/**
 * Reads `body` to its end, yielding the frames of each chunk as one batch. Stopping early is
 * the caller's: leave the loop, then call {@link settleBody}.
 */
export async function* readFrames<T>(body: ResponseBody, framer: Framer<T>, options: FrameLoopOptions): AsyncGenerator<T[], void, undefined> {
  for (;;) {
    let buf: Buffer | null | undefined;
    try {
      buf = body.read();
      if (buf === undefined) buf = await body.wait();
    } catch (error) {
      if (!options.complete()) throw options.fail(error);
      buf = null;
    }
    let frames: T[];
    try {
      frames = buf === null ? framer.end() : framer.push(buf);
    } catch (error) {
      throw options.fail(error);
    }
    if (frames.length > 0) yield frames;
    if (buf === null) return;
  }
}

/**
 * Gives up a body its reader is done with: once the answer is complete only the end of the
 * body is missing, so it is released for the socket to be reused; otherwise it is cancelled.
 */
export function settleBody(body: ResponseBody, complete: boolean): void {
  if (body.finished) return;
  if (complete) body.release();
  else body.cancel();
}
