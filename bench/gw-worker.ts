/**
 * The client side of the gateway benchmark in its own process, so that parsing the answers
 * never shares an event loop with the runner's bookkeeping or with a gateway. The runner
 * (bench/gateways.ts) asks for one measured call or run at a time over IPC; the worker
 * reports its own CPU time for each.
 */
import { Agent } from 'undici';
import { loadRun, manyStreams, singleChat, streamChat } from './gw-client.js';
import type { GatewayCall, GatewayTarget, LoadResult, ManyResult } from './gw-client.js';

/** What the runner asks for. */
export type GwRequest =
  | { id: number; type: 'stream'; target: GatewayTarget; model: string }
  | { id: number; type: 'single'; target: GatewayTarget; model: string }
  | {
      id: number;
      type: 'load';
      target: GatewayTarget;
      model: string;
      durationMs: number;
      maxRequests: number;
      concurrency: number;
      wantChars: number;
    }
  | { id: number; type: 'many'; target: GatewayTarget; model: string; streams: number; wantChunks: number }
  | { id: number; type: 'close' };

/** What the worker answers; `cpuMicros` is this process's CPU time for the work. */
export type GwReply =
  | { id: number; type: 'call'; result: GatewayCall; cpuMicros: number }
  | { id: number; type: 'load'; result: LoadResult; cpuMicros: number }
  | { id: number; type: 'many'; result: ManyResult; cpuMicros: number }
  | { id: number; type: 'error'; message: string }
  | { id: -1; type: 'ready' };

// Timeouts so that a gateway that stops answering fails the call instead of hanging the bench.
const agent = new Agent({ headersTimeout: 60_000, bodyTimeout: 60_000, connectTimeout: 10_000 });
// A thousand streams at once queue up in a slow gateway: each gets minutes for its headers.
const manyAgent = new Agent({ headersTimeout: 300_000, bodyTimeout: 120_000, connectTimeout: 60_000 });

function cpuSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

const reply = (msg: GwReply): void => {
  process.send?.(msg);
};

process.on('message', (req: GwRequest) => {
  void (async () => {
    try {
      if (req.type === 'close') {
        await Promise.all([agent.close(), manyAgent.close()]);
        process.disconnect?.();
        return;
      }
      const cpu0 = process.cpuUsage();
      if (req.type === 'stream' || req.type === 'single') {
        const result = req.type === 'stream' ? await streamChat(agent, req.target, req.model) : await singleChat(agent, req.target, req.model);
        reply({ id: req.id, type: 'call', result, cpuMicros: cpuSince(cpu0) });
      } else if (req.type === 'load') {
        const result = await loadRun(agent, req.target, req.model, req);
        reply({ id: req.id, type: 'load', result, cpuMicros: cpuSince(cpu0) });
      } else {
        const result = await manyStreams(manyAgent, req.target, req.model, req.streams, req.wantChunks);
        reply({ id: req.id, type: 'many', result, cpuMicros: cpuSince(cpu0) });
      }
    } catch (err) {
      reply({ id: req.id, type: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
reply({ id: -1, type: 'ready' });
