/**
 * The runner's side of bench/worker.ts: one child process per client, driven over IPC.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LABELS } from './clients.js';
import type { CallResult, ClientName } from './clients.js';
import { closeWorker } from './spawn.js';
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

/** `Omit` that keeps a union a union. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

type Pending = { resolve: (r: WorkerReply) => void; reject: (e: Error) => void };

/** Starts a worker for `name` and waits until its client is set up; `omegaUrl` from omegaModuleUrl(). */
export async function spawnClient(name: ClientName, baseUrl: string, omegaUrl: string): Promise<ClientWorker> {
  const child = fork(WORKER_PATH, [name, baseUrl, omegaUrl], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let exited = false;

  await new Promise<void>((resolve, reject) => {
    const onMsg = (msg: WorkerReply): void => {
      if (msg.type === 'ready') {
        child.off('message', onMsg);
        child.off('exit', onExit);
        resolve();
      } else if (msg.type === 'error') {
        child.off('message', onMsg);
        child.off('exit', onExit);
        reject(new Error(msg.message));
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`${name} worker exited during setup (code ${code})`));
    child.on('message', onMsg);
    child.once('exit', onExit);
  });

  child.on('message', (msg: WorkerReply) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.type === 'error') p.reject(new Error(msg.message));
    else p.resolve(msg);
  });
  child.on('exit', (code) => {
    exited = true;
    for (const p of pending.values()) p.reject(new Error(`${name} worker exited (code ${code})`));
    pending.clear();
  });

  const call = <T extends WorkerReply>(req: WithoutId<WorkerRequest>): Promise<T> => {
    if (exited) return Promise.reject(new Error(`${name} worker is not running`));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (r: WorkerReply) => void, reject });
      child.send({ ...req, id });
    });
  };

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
    close: () => closeWorker(child, () => exited),
  };
}
