/**
 * One memory measurement in a fresh process, so that nothing another client allocated is
 * counted: opens `streams` concurrent slow streams with one client and samples the resident
 * set size until they have all finished.
 *
 * argv: <client> <baseUrl> <streams> <model> <expectedChunks> <omegaModuleUrl> <intervalMs>
 * Reports a {@link MemResult} over IPC. Run with `--expose-gc` so the baseline is taken
 * after a full collection. The runner runs a transpiled copy of this file with plain Node,
 * not through tsx, whose loader thread would add some 25 MiB to every figure.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeClient } from './clients.js';
import type { ClientName } from './clients.js';

/** What the child reports. */
export interface MemResult {
  client: ClientName;
  streams: number;
  /** RSS after loading the client, one warm-up call and a full GC. */
  baselineRss: number;
  peakRss: number;
  /** Heap in use at the peak RSS sample. */
  peakHeapUsed: number;
  /** Streams that ended with every chunk received. */
  completeStreams: number;
  failedStreams: number;
  firstError?: string;
  durationMs: number;
  samples: number;
  /**
   * Heap still reachable per open stream, in bytes: a second batch of streams is opened and,
   * half-way through it, a full GC is forced and the heap compared with the baseline. Steadier
   * than RSS, which moves with GC timing.
   */
  retainedHeapPerStream: number;
}

const [name, baseUrl, streamsArg, model, expectedArg, omegaUrl, intervalArg] = process.argv.slice(2);
const intervalMs = Number(intervalArg ?? 100);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

async function main(): Promise<MemResult> {
  const streams = Number(streamsArg);
  const expected = Number(expectedArg);
  const client = await makeClient(name as ClientName, baseUrl as string, omegaUrl as string);
  await client.stream('bench-n50');
  gc();
  await sleep(100);
  gc();
  const baselineRss = process.memoryUsage.rss();
  let peakRss = baselineRss;
  let peakHeapUsed = process.memoryUsage().heapUsed;
  let samples = 0;
  const sample = (): void => {
    samples++;
    const rss = process.memoryUsage.rss();
    if (rss > peakRss) {
      peakRss = rss;
      peakHeapUsed = process.memoryUsage().heapUsed;
    }
  };
  const timer = setInterval(sample, 10);
  const t0 = performance.now();
  const results = await Promise.allSettled(Array.from({ length: streams }, () => client.stream(model as string)));
  const durationMs = performance.now() - t0;
  clearInterval(timer);
  sample();
  let completeStreams = 0;
  let failedStreams = 0;
  let firstError: string | undefined;
  for (const r of results) {
    if (r.status === 'fulfilled' && r.value.chunks === expected) completeStreams++;
    else {
      failedStreams++;
      firstError ??= r.status === 'rejected' ? String(r.reason) : `received ${r.value.chunks} of ${expected} chunks`;
    }
  }
  // Second phase, after the peak has been recorded: what each open stream keeps alive.
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  // Shorter streams (20 chunks), measured after 10: the figure needs open streams, not long ones.
  const secondModel = (model as string).replace(/-n\d+$/, '-n20');
  const second = Promise.allSettled(Array.from({ length: streams }, () => client.stream(secondModel)));
  await sleep(intervalMs * 10);
  gc();
  const retainedHeapPerStream = (process.memoryUsage().heapUsed - heap0) / streams;
  await second;
  await client.close();
  const out: MemResult = {
    client: name as ClientName,
    streams,
    baselineRss,
    peakRss,
    peakHeapUsed,
    completeStreams,
    failedStreams,
    durationMs,
    samples,
    retainedHeapPerStream,
  };
  if (firstError !== undefined) out.firstError = firstError;
  return out;
}

main().then(
  (res) => {
    process.send?.({ type: 'mem', result: res });
    process.disconnect?.();
  },
  (err: unknown) => {
    process.send?.({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.disconnect?.();
    process.exitCode = 1;
  },
);
