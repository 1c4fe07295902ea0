/**
 * The runner's side of bench/worker.ts: one child process per client, driven over IPC.
 */
import { fileURLToPath } from 'node:url';
import { LABELS } from './clients.js';
import type { CallResult, ClientName } from './clients.js';
import { startIpcWorker } from './ipc.js';
import type { WithoutId } from './ipc.js';
import type { WorkerReply, WorkerRequest } from './worker.js';

/** A client living in its own process. */
export interface ClientWorker {
  readonly name: ClientName;
  readonly label: string;
  /** One streamed chat, measured inside the worker. */
  stream(model: string): Promise<{ result: CallResult; cpuMicros: number }>;
  /** `total` non-streamed chats, `concurrency` in flight; `bad` counts answers of the wrong length. */
  load(model: string, total: number, concurrency: number, wantChars: number): Promise<{ ms: number; bad: number; cpuMicros: number }>;
  close(): Promise<void>;
}

const WORKER_PATH = fileURLToPath(new URL('./worker.ts', import.meta.url));

/** Starts a worker for `name` and waits until its client is set up; `omegaUrl` from omegaModuleUrl(). */
export async function spawnClient(name: ClientName, baseUrl: string, omegaUrl: string): Promise<ClientWorker> {
  const worker = await startIpcWorker<WorkerRequest, WorkerReply>(WORKER_PATH, `${name} worker`, [name, baseUrl, omegaUrl]);
  const call = <T extends WorkerReply>(req: WithoutId<WorkerRequest>): Promise<T> => worker.call<T>(req);

  return {
    name,
    label: LABELS[name],
    async stream(model) {
      const r = await call<Extract<WorkerReply, { type: 'stream' }>>({ type: 'stream', model });
      return { result: r.result, cpuMicros: r.cpuMicros };
    },
    async load(model, total, concurrency, wantChars) {
      const r = await call<Extract<WorkerReply, { type: 'load' }>>({ type: 'load', model, total, concurrency, wantChars });
      return { ms: r.ms, bad: r.bad, cpuMicros: r.cpuMicros };
    },
    close: () => worker.close(),
  };
}
