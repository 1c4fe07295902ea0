/**
 * The runner's side of a bench worker child: fork it under tsx, wait for its `ready`, then send
 * requests by id and match the replies, so each section does not write the bookkeeping again.
 * A worker answers `{ type: 'error', id, message }` for a failed request (or before `ready`, for
 * a failed set-up), and exits on `{ type: 'close', id: 0 }` (see {@link closeWorker}).
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeWorker } from './spawn.js';

/** `Omit` that keeps a union a union. */
export type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** What every worker reply has in common. */
export interface IpcReply {
  type: string;
  id?: number;
  message?: string;
}

/** A running worker. */
export interface IpcWorker<Req, Reply extends IpcReply> {
  /** Sends one request and resolves with its reply; with `timeoutMs`, rejects when none comes in time. */
  call<T extends Reply>(req: WithoutId<Req>, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

/** The message of anything thrown. */
export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Forks the worker at `path` with `args` and waits until it says it is ready; `label` names it in errors. */
export async function startIpcWorker<Req, Reply extends IpcReply>(path: string, label: string, args: string[] = []): Promise<IpcWorker<Req, Reply>> {
  const child: ChildProcess = fork(path, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let exited = false;
  await new Promise<void>((resolve, reject) => {
    const settle = (error?: Error): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onMessage = (msg: Reply): void => {
      if (msg.type === 'ready') settle();
      else if (msg.type === 'error') settle(new Error(msg.message ?? `${label} failed to set up`));
    };
    const onExit = (code: number | null): void => settle(new Error(`${label} exited during setup (code ${code})`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
  child.on('message', (msg: Reply) => {
    const p = msg.id === undefined ? undefined : pending.get(msg.id);
    if (p === undefined || msg.id === undefined) return;
    pending.delete(msg.id);
    if (msg.type === 'error') p.reject(new Error(msg.message));
    else p.resolve(msg);
  });
  child.on('exit', (code) => {
    exited = true;
    for (const p of pending.values()) p.reject(new Error(`${label} exited (code ${code})`));
    pending.clear();
  });
  let nextId = 1;
  return {
    call<T extends Reply>(req: WithoutId<Req>, timeoutMs?: number): Promise<T> {
      if (exited) return Promise.reject(new Error(`${label} is not running`));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
          pending.delete(id);
          reject(new Error(`no answer within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ ...req, id });
      });
    },
    close: () => closeWorker(child, () => exited),
  };
}
