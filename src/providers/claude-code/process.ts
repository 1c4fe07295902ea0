/**
 * One run of a CLI subprocess that can be stopped for good: the child is started as the
 * leader of its own process group, so a timeout or an abort takes down everything it started
 * (Claude Code spawns tool and MCP processes), first with SIGTERM and, after a grace period,
 * with SIGKILL. Nothing here knows about Claude Code's output format.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import { LineSplitter } from '../../http/ndjson.js';

/** How a run ended. */
export type CliEnd =
  /** The process exited by itself (`code`), or was killed by someone else (`signal`). */
  | { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null }
  /** The run's time limit expired and the group was killed. */
  | { kind: 'timeout'; timeoutMs: number }
  /** The caller's signal fired, or the caller stopped the run, and the group was killed. */
  | { kind: 'aborted' }
  /** stdout grew beyond the limit and the group was killed. */
  | { kind: 'output_limit'; maxOutputBytes: number }
  /** The process could not be started (`ENOENT`, `EACCES`, ...). */
  | { kind: 'spawn_error'; error: NodeJS.ErrnoException };

/** Options of {@link CliRun}. */
export interface CliRunOptions {
  command: string;
  args: readonly string[];
  /** Written to stdin, which is then closed. */
  input: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Whole-run limit in milliseconds; `0` means none. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL. */
  killGraceMs: number;
  /** Upper bound of stdout, so a runaway process cannot exhaust memory. */
  maxOutputBytes: number;
  logger?: Logger;
}

/** Bytes of stderr kept for error messages. */
const STDERR_TAIL_BYTES = 8 * 1024;
/** After the process exits, how long stdout may stay open (held by a process it left behind). */
const DRAIN_MS = 2000;
/** setTimeout's largest delay. */
const MAX_DELAY = 2_147_483_647;
const GROUPS = process.platform !== 'win32';

/** Process groups still running, killed if this process exits first (they are detached, so nothing else would). */
const live = new Set<number>();
function killLiveGroups(): void {
  for (const pid of live) signalGroup(pid, 'SIGKILL');
}
function track(pid: number): void {
  if (live.size === 0) process.on('exit', killLiveGroups);
  live.add(pid);
}
function untrack(pid: number): void {
  if (!live.delete(pid)) return;
  if (live.size === 0) process.removeListener('exit', killLiveGroups);
}

/** Sends `signal` to the process group led by `pid`; false when no such group exists any more. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(GROUPS ? -pid : pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * A running subprocess. Read stdout with {@link lines} or {@link collect}, then await
 * {@link ended}. Call {@link stop} when giving up on it early; it is safe to call at any time.
 */
export class CliRun {
  /** Process id (and process group id) of the child; undefined when it could not be started. */
  readonly pid: number | undefined;
  /** Settles (never rejects) once the child has exited or failed to start. */
  readonly ended: Promise<CliEnd>;

  private readonly child: ChildProcessWithoutNullStreams | null;
  private readonly options: CliRunOptions;
  private readonly logger: Logger;
  private end: CliEnd | null = null;
  private reason: CliEnd | null = null;
  private exited = false;
  private resolveEnded!: (end: CliEnd) => void;
  private timer: NodeJS.Timeout | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private drainTimer: NodeJS.Timeout | null = null;
  private onAbort: (() => void) | null = null;
  private stderrParts: Buffer[] = [];
  private stderrBytes = 0;
  private stdoutBytes = 0;

  constructor(options: CliRunOptions) {
    this.options = options;
    this.logger = options.logger ?? silentLogger;
    this.ended = new Promise<CliEnd>((resolve) => {
      this.resolveEnded = resolve;
    });
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(options.command, [...options.args], {
        env: options.env ?? process.env,
        cwd: options.cwd,
        // Its own process group, so killing -pid reaches every process it started.
        detached: GROUPS,
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (error) {
      // Some failures (an invalid argument, a bad cwd on some platforms) throw instead of emitting.
      this.child = null;
      this.pid = undefined;
      this.settle({ kind: 'spawn_error', error: error as NodeJS.ErrnoException });
      return;
    }
    this.child = child;
    this.pid = child.pid;

    child.on('error', (error: NodeJS.ErrnoException) => {
      // 'error' also reports a failed kill(); only a failure to start ends the run here.
      if (this.pid === undefined && this.end === null) {
        child.stdout.destroy();
        child.stderr.destroy();
        child.stdin.destroy();
        this.settle({ kind: 'spawn_error', error });
      } else {
        this.logger.debug({ err: error.message }, 'subprocess error');
      }
    });
    child.on('exit', (code, signal) => this.onExit(code, signal));
    // A child that exits without reading its input makes the write fail with EPIPE: not our failure.
    child.stdin.on('error', (error) => this.logger.debug({ err: error.message }, 'subprocess stdin closed'));
    child.stdout.on('error', () => undefined);
    child.stderr.on('error', () => undefined);
    child.stderr.on('data', (chunk: Buffer) => this.keepStderr(chunk));

    if (this.pid === undefined) {
      // Spawning failed; 'error' follows on the next tick.
      return;
    }
    track(this.pid);
    child.stdin.end(options.input);

    if (options.timeoutMs > 0) {
      this.timer = setTimeout(
        () => this.terminate({ kind: 'timeout', timeoutMs: options.timeoutMs }),
        Math.min(options.timeoutMs, MAX_DELAY),
      );
    }
    const signal = options.signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.terminate({ kind: 'aborted' });
      } else {
        this.onAbort = () => this.terminate({ kind: 'aborted' });
        signal.addEventListener('abort', this.onAbort, { once: true });
      }
    }
  }

  /** stdout, line by line (empty lines skipped). Ends when stdout closes or the run is stopped. */
  async *lines(): AsyncGenerator<string, void, undefined> {
    const child = this.child;
    if (child === null) return;
    const splitter = new LineSplitter({ maxLineBytes: this.options.maxOutputBytes });
    try {
      for await (const chunk of child.stdout) {
        if (!this.countStdout(chunk as Buffer)) return;
        splitter.push(chunk as Buffer);
        for (let line = splitter.next(); line !== undefined; line = splitter.next()) yield line;
      }
    } catch (error) {
      // The stream is destroyed when the run is stopped; the end reason tells the rest.
      if (this.reason === null) this.logger.debug({ err: (error as Error).message }, 'subprocess stdout failed');
      return;
    }
    const last = splitter.end();
    if (last !== undefined) yield last;
  }

  /** The whole of stdout. Resolves early (with what was read) when the run is stopped. */
  async collect(): Promise<Buffer> {
    const parts: Buffer[] = [];
    const child = this.child;
    if (child === null) return Buffer.alloc(0);
    try {
      for await (const chunk of child.stdout) {
        if (!this.countStdout(chunk as Buffer)) break;
        parts.push(chunk as Buffer);
      }
    } catch (error) {
      if (this.reason === null) this.logger.debug({ err: (error as Error).message }, 'subprocess stdout failed');
    }
    return Buffer.concat(parts);
  }

  /** The last non-empty line of stderr, or `''`. */
  stderrLastLine(): string {
    const text = Buffer.concat(this.stderrParts).toString('utf8');
    const lines = text.split(/\r?\n/).map((l) => l.trim());
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i] as string;
      if (line !== '') return line;
    }
    return '';
  }

  /** Stops the run if it is still going (the caller gave up); the end reason becomes `aborted`. */
  stop(): void {
    this.terminate({ kind: 'aborted' });
  }

  /** Kills the whole group: SIGTERM now, SIGKILL after the grace period if any member is left. */
  private terminate(reason: CliEnd): void {
    const child = this.child;
    if (this.reason !== null || this.exited || this.pid === undefined || child === null) return;
    this.reason = reason;
    this.clearRunTimers();
    const pid = this.pid;
    this.logger.debug({ pid, reason: reason.kind }, 'stopping subprocess group');
    // The caller is told at once; whatever is still buffered is of no use to it.
    child.stdout.destroy();
    child.stderr.destroy();
    child.stdin.destroy();
    if (!signalGroup(pid, 'SIGTERM')) child.kill('SIGTERM');
    this.killTimer = setTimeout(() => {
      this.killTimer = null;
      if (!signalGroup(pid, 'SIGKILL') && !this.exited) child.kill('SIGKILL');
      untrack(pid);
    }, this.options.killGraceMs);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    this.clearRunTimers();
    const pid = this.pid;
    if (pid !== undefined) {
      if (this.killTimer !== null) {
        // Members that outlive the leader (they ignored SIGTERM) still get the SIGKILL.
        if (!signalGroup(pid, 0)) {
          clearTimeout(this.killTimer);
          this.killTimer = null;
          untrack(pid);
        }
      } else {
        untrack(pid);
      }
    }
    if (this.reason !== null) {
      this.settle(this.reason);
      return;
    }
    // Something the child left running may hold stdout open; do not wait for it forever.
    const child = this.child;
    if (child !== null && !child.stdout.readableEnded && !child.stdout.destroyed) {
      this.drainTimer = setTimeout(() => {
        this.drainTimer = null;
        child.stdout.destroy();
        child.stderr.destroy();
      }, DRAIN_MS);
      child.stdout.once('close', () => {
        if (this.drainTimer !== null) clearTimeout(this.drainTimer);
        this.drainTimer = null;
      });
    }
    this.settle({ kind: 'exit', code, signal });
  }

  private settle(end: CliEnd): void {
    if (this.end !== null) return;
    this.end = end;
    this.clearRunTimers();
    this.resolveEnded(end);
  }

  private clearRunTimers(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.onAbort !== null) {
      this.options.signal?.removeEventListener('abort', this.onAbort);
      this.onAbort = null;
    }
  }

  private countStdout(chunk: Buffer): boolean {
    this.stdoutBytes += chunk.length;
    if (this.stdoutBytes <= this.options.maxOutputBytes) return true;
    this.terminate({ kind: 'output_limit', maxOutputBytes: this.options.maxOutputBytes });
    return false;
  }

  private keepStderr(chunk: Buffer): void {
    this.stderrParts.push(chunk);
    this.stderrBytes += chunk.length;
    while (this.stderrBytes > STDERR_TAIL_BYTES && this.stderrParts.length > 1) {
      this.stderrBytes -= (this.stderrParts.shift() as Buffer).length;
    }
  }
}
