/**
 * `omega pull MODEL --all-hosts` with an Ollama fleet: the model is pulled on every host at
 * once, with one progress bar per host (all of that host's layers together) on a terminal, or
 * a line per host every few seconds otherwise. One host's failure does not stop the others; it
 * is reported at the end and the exit status says that something failed.
 */
import type cliProgress from 'cli-progress';
import type { OllamaFleet } from '../providers/ollama/fleet/index.js';
import type { PullProgress } from '../providers/ollama/types.js';
import { describeError } from './errors.js';
import { formatBytes, progressBars, type OutStream, type Style } from './output.js';

/** One host's pull as the view tracks it. */
interface HostPull {
  /** Bytes per layer digest: what the host reported last. */
  layers: Map<string, { total: number; completed: number }>;
  status: string;
  lastPrinted: number;
}

/** How one host's pull ended. */
export interface HostPullOutcome {
  host: string;
  ok: boolean;
  error?: string;
}

/** The host as a short label: `192.168.1.20:11434` for `http://192.168.1.20:11434`. */
export function hostLabel(url: string): string {
  return url.replace(/^https?:\/\//, '');
}

function sums(p: HostPull): { total: number; completed: number } {
  let total = 0;
  let completed = 0;
  for (const l of p.layers.values()) {
    total += l.total;
    completed += l.completed;
  }
  return { total, completed };
}

/** Draws the progress of a fleet-wide pull; a terminal gets bars, a pipe gets lines. */
export class FleetPullView {
  private readonly hosts = new Map<string, HostPull>();
  private readonly width: number;
  private multibar: cliProgress.MultiBar | undefined;
  private readonly bars = new Map<string, cliProgress.SingleBar>();

  constructor(
    private readonly stream: OutStream,
    private readonly style: Style,
    hostUrls: readonly string[],
  ) {
    this.width = Math.max(...hostUrls.map((h) => hostLabel(h).length));
    for (const h of hostUrls) this.hosts.set(h, { layers: new Map(), status: 'waiting', lastPrinted: 0 });
    if (stream.isTTY === true) {
      this.multibar = progressBars(stream, style, '{status}');
      for (const h of hostUrls) {
        this.bars.set(h, this.multibar.create(1, 0, { label: hostLabel(h).padEnd(this.width), done: '-', size: '-', status: 'waiting' }));
      }
    }
  }

  /** One progress event of `host`. */
  progress(host: string, p: PullProgress): void {
    const state = this.hosts.get(host);
    if (state === undefined) return;
    if (p.digest !== undefined && p.total !== undefined && p.total > 0) {
      state.layers.set(p.digest, { total: p.total, completed: p.completed ?? 0 });
      state.status = 'downloading';
      this.draw(host, state, (p.completed ?? 0) >= p.total);
      return;
    }
    // A host's `success` is said once, when its pull has ended (finish).
    if (p.status === 'success' || p.status === state.status) return;
    state.status = p.status;
    this.draw(host, state, true);
  }

  /** The end of `host`'s pull. */
  finish(outcome: HostPullOutcome): void {
    const state = this.hosts.get(outcome.host);
    if (state === undefined) return;
    state.status = outcome.ok ? 'success' : `failed: ${outcome.error ?? 'unknown error'}`;
    this.draw(outcome.host, state, true);
  }

  private draw(host: string, state: HostPull, statusChanged: boolean): void {
    const { total, completed } = sums(state);
    const bar = this.bars.get(host);
    if (bar !== undefined) {
      const status = state.status.length > 60 ? `${state.status.slice(0, 57)}...` : state.status;
      const full = state.status === 'success';
      bar.setTotal(Math.max(total, 1));
      bar.update(full ? Math.max(total, 1) : completed, { done: total > 0 ? formatBytes(completed) : '-', size: total > 0 ? formatBytes(total) : '-', status });
      return;
    }
    // Plain lines: every status change and finished layer, and a host's bytes at most every two seconds.
    const now = performance.now();
    const label = hostLabel(host);
    if (state.status === 'downloading' && total > 0) {
      if (!statusChanged && state.lastPrinted !== 0 && now - state.lastPrinted < 2000) return;
      state.lastPrinted = now;
      this.stream.write(`${label}: ${Math.floor((completed / total) * 100)}% (${formatBytes(completed)}/${formatBytes(total)})\n`);
    } else {
      this.stream.write(`${label}: ${state.status}\n`);
    }
  }

  /** Stops redrawing (leaves the bars as they are). */
  stop(): void {
    this.multibar?.stop();
    this.multibar = undefined;
  }
}

/**
 * Pulls `model` on every host of `fleet` with `view` showing progress; resolves with each
 * host's outcome (never rejects for a host's failure).
 */
export async function pullOnEveryHost(fleet: OllamaFleet, model: string, view: FleetPullView, options: { signal: AbortSignal; insecure: boolean }): Promise<HostPullOutcome[]> {
  const results = await fleet.pull(model, {
    signal: options.signal,
    insecure: options.insecure,
    onProgress: (host, p) => view.progress(host, p),
  });
  const outcomes = results.map((r): HostPullOutcome => (r.ok ? { host: r.host, ok: true } : { host: r.host, ok: false, error: describeError(r.error) }));
  for (const o of outcomes) view.finish(o);
  return outcomes;
}
