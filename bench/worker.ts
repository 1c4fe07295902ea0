/**
 * One client in its own process. The runner (bench/run.ts) starts one of these per client and
 * asks them in turn for one measured call or one load run, so the clients alternate while
 * none of them shares a heap, a JIT or a garbage collector with another: a library that
 * leaves a large heap behind cannot slow down the client measured after it.
 *
 * No GC is forced between calls: a forced full collection leaves concurrent sweeping running
 * on helper threads, which was charged to the next measured call (it raised every client's
 * CPU per chunk by a third). Each client's own garbage is its steady state.
 *
 * argv: <client> <baseUrl> <omegaModuleUrl>. Speaks {@link WorkerRequest} / {@link WorkerReply}
 * over IPC.
 */
import { performance } from 'node:perf_hooks';
import { makeClient } from './clients.js';
import type { BenchClient, CallResult, ClientName } from './clients.js';

/** What the runner asks for. */
export type WorkerRequest =
  | { id: number; type: 'stream'; model: string }
  | { id: number; type: 'load'; model: string; total: number; concurrency: number; wantChars: number }
  | { id: number; type: 'close' };

/** What a worker answers: the result plus this process's CPU time for the work, in µs. */
export type WorkerReply =
  | { id: number; type: 'stream'; result: CallResult; cpuMicros: number }
  | { id: number; type: 'load'; ms: number; bad: number; cpuMicros: number }
  | { id: number; type: 'error'; message: string }
  | { id: -1; type: 'ready' };

const [name, baseUrl, omegaUrl] = process.argv.slice(2);

function cpuSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

async function load(
  client: BenchClient,
  model: string,
  total: number,
  concurrency: number,
  wantChars: number,
): Promise<{ ms: number; bad: number }> {
  const chat = client.chat?.bind(client);
  if (!chat) throw new Error(`${client.name} has no non-streamed call`);
  let started = 0;
  let bad = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < total) {
        started++;
        const r = await chat(model);
        if (r.chars !== wantChars) bad++;
      }
    }),
  );
  return { ms: performance.now() - t0, bad };
}

async function main(): Promise<void> {
  const client = await makeClient(name as ClientName, baseUrl as string, omegaUrl as string);
  const reply = (msg: WorkerReply): void => {
    process.send?.(msg);
  };
  process.on('message', (req: WorkerRequest) => {
    void (async () => {
      try {
        if (req.type === 'close') {
          await client.close();
          process.disconnect?.();
          return;
        }
        const cpu0 = process.cpuUsage();
        if (req.type === 'stream') {
          const result = await client.stream(req.model);
          reply({ id: req.id, type: 'stream', result, cpuMicros: cpuSince(cpu0) });
        } else {
          const r = await load(client, req.model, req.total, req.concurrency, req.wantChars);
          reply({ id: req.id, type: 'load', ms: r.ms, bad: r.bad, cpuMicros: cpuSince(cpu0) });
        }
      } catch (err) {
        reply({ id: req.id, type: 'error', message: err instanceof Error ? err.message : String(err) });
      }
    })();
  });
  reply({ id: -1, type: 'ready' });
}

main().catch((err: unknown) => {
  process.send?.({ id: 0, type: 'error', message: `setup failed: ${err instanceof Error ? err.message : String(err)}` });
  process.disconnect?.();
  process.exitCode = 1;
});
