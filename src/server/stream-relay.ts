/**
 * The loop every front end runs to stream a gateway answer: headers with the first chunk,
 * each chunk written in the front end's protocol with back-pressure, the final answer recorded,
 * and a failure after the headers reported inside the stream. Only the protocol differs.
 */
import type { ChatChunk } from '../core/types.js';
import type { GatewayEvent } from '../gateway/gateway.js';
import type { ClientError } from './errors.js';
import type { Exchange } from './exchange.js';
import { StreamWriter, sendError } from './exchange.js';
import type { ServerContext } from './server.js';

/** How one front end writes a stream. */
export interface StreamProtocol {
  /** Response headers (the provider that answered is added). */
  headers: Record<string, string>;
  /** Written before the first chunk. */
  start?: (writer: StreamWriter) => void;
  /** One chunk in the protocol. */
  chunk: (writer: StreamWriter, chunk: ChatChunk) => void;
  /** A failure once the headers are out, in the protocol; the stream is ended afterwards. */
  error: (writer: StreamWriter, error: ClientError) => void;
}

/** How a relayed stream ended. */
export type RelayOutcome =
  /** The answer ended; `writer` is undefined when not one chunk arrived. */
  | { ok: true; writer: StreamWriter | undefined; final: ChatChunk | undefined }
  /** It failed after the headers went out; the error was written and the stream ended. */
  | { ok: false };

/**
 * Relays `events` to the client. A failure before the first chunk is thrown, for the caller's
 * usual error response; after it, the error goes into the stream (unless the client left).
 */
export async function relayStream(
  ctx: ServerContext,
  ex: Exchange,
  events: AsyncIterable<GatewayEvent>,
  protocol: StreamProtocol,
): Promise<RelayOutcome> {
  let writer: StreamWriter | undefined;
  let final: ChatChunk | undefined;
  try {
    for await (const ev of events) {
      if (ev.type === 'done') {
        ctx.record(ex, ev.message);
        continue;
      }
      if (writer === undefined) {
        ex.provider = ev.provider;
        writer = new StreamWriter(ex, 200, { ...protocol.headers, 'x-omega-provider': ev.provider });
        protocol.start?.(writer);
      }
      protocol.chunk(writer, ev.chunk);
      if (ev.chunk.done) final = ev.chunk;
      const wait = writer.ready();
      if (wait !== undefined) await wait;
    }
  } catch (error) {
    if (writer === undefined) throw error;
    const e = sendError(ex, error);
    if (!ex.signal.aborted) protocol.error(writer, e);
    writer.end();
    return { ok: false };
  }
  return { ok: true, writer, final };
}
