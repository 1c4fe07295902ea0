/**
 * Bounded FIFO queues, one per model, for requests that find every slot busy. The fleet hands a
 * freed slot straight to the oldest waiter it fits (no barging by newer requests), so a waiter
 * is resolved with its lease, or rejected on timeout, on cancel, or when the fleet closes.
 */

/** One waiting request. */
export interface Waiter<C, L> {
  readonly model: string;
  /** What the request asked of its host (sticky key, exclusions, labels). */
  readonly ctx: C;
  /** When it started waiting (ms). */
  readonly since: number;
  resolve(lease: L): void;
  reject(error: unknown): void;
}

interface Entry<C, L> extends Waiter<C, L> {
  cleanup(): void;
}

/** Construction options of {@link FleetQueue}. */
export interface FleetQueueOptions {
  /** Waiters per model. */
  size: number;
  timeoutMs: number;
  now: () => number;
}

/** Why a request could not wait, or stopped waiting. */
export type QueueRefusal = { reason: 'full'; waiting: number } | { reason: 'timeout'; waitedMs: number } | { reason: 'aborted' };

/** Per-model FIFO queues of requests waiting for a slot. */
export class FleetQueue<C, L> {
  private readonly queues = new Map<string, Entry<C, L>[]>();

  constructor(private readonly opts: FleetQueueOptions) {}

  /** Requests waiting for `model`. */
  waiting(model: string): number {
    return this.queues.get(model)?.length ?? 0;
  }

  /** Every model with waiters, and how many. */
  all(): { model: string; waiting: number }[] {
    return [...this.queues].filter(([, q]) => q.length > 0).map(([model, q]) => ({ model, waiting: q.length }));
  }

  /**
   * Waits for a lease for `model`. Rejects with `refuse(...)`'s error when the queue is full,
   * the wait times out, or `signal` aborts. The returned promise settles exactly once.
   */
  wait(model: string, ctx: C, signal: AbortSignal | undefined, refuse: (r: QueueRefusal) => unknown): Promise<L> {
    const queue = this.queues.get(model) ?? [];
    if (queue.length >= this.opts.size) return Promise.reject(refuse({ reason: 'full', waiting: queue.length }));
    if (signal?.aborted === true) return Promise.reject(refuse({ reason: 'aborted' }));
    this.queues.set(model, queue);
    return new Promise<L>((resolve, reject) => {
      const since = this.opts.now();
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        this.remove(entry);
        reject(refuse({ reason: 'aborted' }));
      };
      const entry: Entry<C, L> = {
        model,
        ctx,
        since,
        resolve: (lease) => {
          entry.cleanup();
          resolve(lease);
        },
        reject: (error) => {
          entry.cleanup();
          reject(error);
        },
        cleanup: () => {
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      if (this.opts.timeoutMs > 0) {
        timer = setTimeout(() => {
          this.remove(entry);
          reject(refuse({ reason: 'timeout', waitedMs: this.opts.now() - since }));
        }, this.opts.timeoutMs);
        timer.unref();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(entry);
    });
  }

  /** The waiters for `model`, oldest first (a copy; take one with {@link take}). */
  peek(model: string): readonly Waiter<C, L>[] {
    return [...(this.queues.get(model) ?? [])];
  }

  /** Models with waiters. */
  models(): string[] {
    return [...this.queues].filter(([, q]) => q.length > 0).map(([m]) => m);
  }

  /** Removes `waiter` from its queue so the caller can resolve it. */
  take(waiter: Waiter<C, L>): void {
    this.remove(waiter as Entry<C, L>);
  }

  /** Rejects every waiter with `error` (the fleet is closing). */
  clear(error: unknown): void {
    for (const queue of this.queues.values()) {
      for (const entry of queue.splice(0)) entry.reject(error);
    }
    this.queues.clear();
  }

  private remove(entry: Entry<C, L>): void {
    const queue = this.queues.get(entry.model);
    if (queue === undefined) return;
    const i = queue.indexOf(entry);
    if (i >= 0) queue.splice(i, 1);
    if (queue.length === 0) this.queues.delete(entry.model);
    entry.cleanup();
  }
}
