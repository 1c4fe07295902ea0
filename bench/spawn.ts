/**
 * Starts the synthetic server (bench/server.ts) in a child process and hands back its URL.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A running synthetic server. */
export interface BenchServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  readonly pid: number;
  /** The server's CPU time so far, in microseconds (user + system). */
  cpuMicros(): Promise<number>;
  /** CPU time so far (µs) and the chats answered so far, by `stream` flag. */
  stats(): Promise<ServerStats>;
  close(): Promise<void>;
}

/** What the server reports about itself. */
export interface ServerStats {
  cpuMicros: number;
  streamed: number;
  single: number;
  /** Requests for paths the server does not answer, and the last such `METHOD path`. */
  notFound: number;
  lastNotFound: string;
}

const SERVER_PATH = fileURLToPath(new URL('./server.ts', import.meta.url));

/** Options of bench/server.ts (see its header); the defaults are its plain behaviour. */
export interface BenchServerOptions {
  /** Chats answered at a time; the rest wait in arrival order. Unlimited when unset. */
  slots?: number;
  /** Names `/api/tags` lists and `/api/ps` reports as loaded. */
  models?: string[];
}

/** Forks bench/server.ts (through tsx) and waits until it listens. */
export async function spawnBenchServer(opts: BenchServerOptions = {}): Promise<BenchServer> {
  const args: string[] = [];
  if (opts.slots !== undefined) args.push(`--slots=${opts.slots}`);
  if (opts.models !== undefined && opts.models.length > 0) args.push(`--models=${opts.models.join(',')}`);
  const child: ChildProcess = fork(SERVER_PATH, args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`bench server exited early (code ${code})`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.on('message', function onMsg(msg: { type?: string; port?: number }) {
      if (msg.type === 'ready' && typeof msg.port === 'number') {
        child.off('message', onMsg);
        child.off('exit', onExit);
        resolve(msg.port);
      }
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const stats = (): Promise<ServerStats> =>
    new Promise<ServerStats>((resolve) => {
      type Msg = { type?: string; usage?: NodeJS.CpuUsage; served?: Omit<ServerStats, 'cpuMicros'> };
      child.on('message', function onMsg(msg: Msg) {
        if (msg.type === 'cpu' && msg.usage && msg.served) {
          child.off('message', onMsg);
          resolve({ cpuMicros: msg.usage.user + msg.usage.system, ...msg.served });
        }
      });
      child.send({ type: 'cpu' });
    });
  return {
    url,
    pid: child.pid ?? -1,
    stats,
    cpuMicros: async () => (await stats()).cpuMicros,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          resolve();
          return;
        }
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.send({ type: 'close' });
      }),
  };
}

/**
 * Asks a worker child to close (`{ type: 'close', id: 0 }`) and resolves once it has exited. A
 * worker that keeps a handle open after closing its client is killed after 5 s, not waited for.
 */
export function closeWorker(child: ChildProcess, exited: () => boolean): Promise<void> {
  return new Promise<void>((resolve) => {
    if (exited()) {
      resolve();
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.send({ type: 'close', id: 0 });
  });
}
