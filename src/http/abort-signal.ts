/**
 * The one place an exchange listens to its caller's AbortSignal. The signal is never wrapped
 * (no AbortSignal.any, no new controller): one listener, removed when the exchange finishes,
 * so a long-lived signal shared by many calls does not collect listeners.
 */
import { TransportError } from './errors.js';

/** The error of a request cancelled through its signal. */
export function abortedError(origin: string, signal: AbortSignal): TransportError {
  return new TransportError('aborted', 'The request was cancelled.', { origin, cause: signal.reason });
}

/** Calls `onAbort` once if `signal` fires; the returned function removes the listener (call it when done). */
export function listenForAbort(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (signal === undefined) return noop;
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

function noop(): void {}
