/** SSE events as a {@link Framer} for the shared body loop. */
import { SseParser } from '../../http/sse.js';
import type { SseEvent } from '../../http/sse.js';
import type { Framer } from './stream-body.js';

/** A framer over a fresh {@link SseParser}. */
export function sseFramer(): Framer<SseEvent> {
  const parser = new SseParser();
  return { push: (chunk) => parser.push(chunk), end: () => parser.end() };
}
