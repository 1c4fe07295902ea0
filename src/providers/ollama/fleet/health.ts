/**
 * Per-host health: which failures count against a host, and the circuit breaker that takes a
 * failing host out of rotation and lets it back in after one successful trial.
 */
import { ProviderError } from '../../../core/errors.js';
import type { CircuitState } from './types.js';

/**
 * Whether a failure says the host itself is unwell: it could not be reached, timed out, broke
 * the connection, answered 5xx or sent garbage. A 4xx (model not found, bad request), a
 * refusal of an oversized prompt, a server queue that is full and the caller's own cancel do not.
 */
export function countsAgainstHost(error: unknown): boolean {
  if (!(error instanceof ProviderError)) return false;
  switch (error.code) {
    case 'unavailable':
    case 'timeout':
    case 'connection_lost':
    case 'protocol':
      return true;
    case 'server_error':
      return error.status === undefined || error.status >= 500;
    default:
      return false;
  }
}

/** Construction options of {@link CircuitBreaker}. */
export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  threshold: number;
  /** Time the circuit stays open before a trial is allowed. */
  cooldownMs: number;
  now: () => number;
  /** Told of every change of state, with the failure that caused an opening. */
  onChange?: (state: CircuitState, reason?: string) => void;
}

/**
 * closed → (threshold consecutive failures) → open → (cool-down) → half-open → one trial:
 * success closes it, failure opens it again for another cool-down.
 */
export class CircuitBreaker {
  private state: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private trial = false;

  constructor(private readonly opts: BreakerOptions) {}

  /** The state now; an open circuit whose cool-down has passed becomes half-open here. */
  current(): CircuitState {
    if (this.state === 'open' && this.opts.now() - this.openedAt >= this.opts.cooldownMs) {
      this.state = 'half_open';
      this.trial = false;
      this.opts.onChange?.('half_open');
    }
    return this.state;
  }

  /** Whether the half-open trial is running, so nothing else may go to the host. */
  get trialBusy(): boolean {
    return this.state === 'half_open' && this.trial;
  }

  /** Consecutive failures so far. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Claims the half-open trial; false when it is taken or the circuit is not half-open. */
  startTrial(): boolean {
    if (this.current() !== 'half_open' || this.trial) return false;
    this.trial = true;
    return true;
  }

  /** Gives an unfinished trial back without a verdict (the caller cancelled). */
  abandonTrial(): void {
    this.trial = false;
  }

  /** The host answered. */
  success(): void {
    this.failures = 0;
    this.trial = false;
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.opts.onChange?.('closed');
    }
  }

  /** The host failed in a way that {@link countsAgainstHost}. */
  failure(reason: string): void {
    this.failures++;
    const state = this.current();
    this.trial = false;
    if (state === 'half_open' || (state === 'closed' && this.failures >= this.opts.threshold)) {
      this.state = 'open';
      this.openedAt = this.opts.now();
      this.opts.onChange?.('open', reason);
    }
  }
}
