/**
 * The client of the fleet benchmark (bench/fleet.ts) in its own process, so that parsing the
 * answers never shares an event loop with the runner or a gateway. Besides single streamed
 * calls it runs a streamed load: a fixed number of chats, a fixed number in flight, each one's
 * latency kept, sent either to one endpoint (a gateway that balances) or to one of several
 * endpoints picked at random per request (what Open WebUI does with several Ollama URLs).
 */
import { performance } from 'node:perf_hooks';
import { Agent } from 'undici';
import { MESSAGES } from './clients.js';
import { streamChat } from './gw-client.js';
import type { ChatMessages } from './gw-client.js';
import type { GatewayCall, GatewayTarget } from './gw-client.js';

/** What a streamed load did. */
export interface StreamLoadResult {
  /** Chats that delivered the expected number of chunks. */
  ok: number;
  /** Chats that failed or delivered a different number of chunks. */
  failed: number;
  firstError?: string;
  /** From the first request to the last answer, ms. */
  ms: number;
  /** Per completed chat: ms from sending to the end of the stream. */
  latencies: number[];
  /** Per completed chat: ms from sending to the first content chunk. */
  firsts: number[];
  /** Per completed chat: chunks received (for the aggregate chunks/s). */
  chunks: number;
}

/** What the runner asks for. */
export type FleetRequest =
  | { id: number; type: 'stream'; target: GatewayTarget; model: string }
  | {
      id: number;
      type: 'streamLoad';
      /** One target, or several to pick from at random per request. */
      targets: GatewayTarget[];
      model: string;
      requests: number;
      concurrency: number;
      wantChunks: number;
    }
  | { id: number; type: 'close' };

/** What the worker answers. */
export type FleetReply =
  | { id: number; type: 'call'; result: GatewayCall }
  | { id: number; type: 'streamLoad'; result: StreamLoadResult }
  | { id: number; type: 'error'; message: string }
  | { id: -1; type: 'ready' };

// Enough connections for every chat in flight, and timeouts so a stuck gateway fails the call.
const agent = new Agent({ headersTimeout: 120_000, bodyTimeout: 60_000, connectTimeout: 10_000, connections: 256 });

async function streamLoad(req: Extract<FleetRequest, { type: 'streamLoad' }>): Promise<StreamLoadResult> {
  const out: StreamLoadResult = { ok: 0, failed: 0, ms: 0, latencies: [], firsts: [], chunks: 0 };
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: req.concurrency }, async () => {
      while (started < req.requests) {
        started++;
        const target = req.targets.length === 1 ? (req.targets[0] as GatewayTarget) : (req.targets[Math.floor(Math.random() * req.targets.length)] as GatewayTarget);
        try {
          const r = await streamChat(agent, target, req.model, undefined, newConversation());
          if (r.chunks !== req.wantChunks) throw new Error(`received ${r.chunks} of ${req.wantChunks} chunks`);
          out.ok++;
          out.chunks += r.chunks;
          out.latencies.push(r.totalMs);
          out.firsts.push(r.firstMs);
        } catch (err) {
          out.failed++;
          out.firstError ??= err instanceof Error ? err.message : String(err);
          // A failing gateway is not hammered for the rest of the run.
          if (out.failed >= 50) return;
        }
      }
    }),
  );
  out.ms = performance.now() - t0;
  return out;
}

let conversations = 0;
/**
 * A new conversation's opening for every chat: the fleet keeps one opening on one host (its
 * KV cache stays warm), so chats that all opened alike would be one conversation to it, not the
 * independent requests this benchmark means to spread.
 */
function newConversation(): ChatMessages {
  conversations++;
  return MESSAGES.map((m) => ({ ...m, content: `${m.content} (conversation ${conversations})` }));
}

const reply = (msg: FleetReply): void => {
  process.send?.(msg);
};

process.on('message', (req: FleetRequest) => {
  void (async () => {
    try {
      if (req.type === 'close') {
        await agent.close();
        process.disconnect?.();
        return;
      }
      if (req.type === 'stream') reply({ id: req.id, type: 'call', result: await streamChat(agent, req.target, req.model, undefined, newConversation()) });
      else reply({ id: req.id, type: 'streamLoad', result: await streamLoad(req) });
    } catch (err) {
      reply({ id: req.id, type: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
reply({ id: -1, type: 'ready' });
