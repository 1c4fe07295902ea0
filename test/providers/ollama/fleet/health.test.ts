/** The circuit breaker's states on a fake clock, and which failures count against a host. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProviderError } from '../../../../src/core/errors.js';
import type { ProviderErrorCode } from '../../../../src/core/errors.js';
import { CircuitBreaker, countsAgainstHost } from '../../../../src/providers/ollama/fleet/health.js';
import type { CircuitState } from '../../../../src/providers/ollama/fleet/types.js';

function breaker(threshold = 3, cooldownMs = 1000): { b: CircuitBreaker; clock: { t: number }; changes: string[] } {
  const clock = { t: 0 };
  const changes: string[] = [];
  const b = new CircuitBreaker({ threshold, cooldownMs, now: () => clock.t, onChange: (s: CircuitState, r?: string) => changes.push(r === undefined ? s : `${s}:${r}`) });
  return { b, clock, changes };
}

test('closed → open after threshold consecutive failures; a success in between resets the count', () => {
  const { b, changes } = breaker(3);
  b.failure('x');
  b.failure('x');
  b.success();
  b.failure('x');
  b.failure('x');
  assert.equal(b.current(), 'closed');
  assert.equal(b.consecutiveFailures, 2);
  b.failure('refused');
  assert.equal(b.current(), 'open');
  assert.deepEqual(changes, ['open:refused']);
});

test('open → half-open after the cool-down; one trial at a time; success closes', () => {
  const { b, clock, changes } = breaker(1, 1000);
  b.failure('down');
  clock.t = 999;
  assert.equal(b.current(), 'open');
  assert.equal(b.startTrial(), false);
  clock.t = 1000;
  assert.equal(b.current(), 'half_open');
  assert.equal(b.startTrial(), true);
  assert.equal(b.trialBusy, true);
  assert.equal(b.startTrial(), false, 'a second trial is refused while the first runs');
  b.success();
  assert.equal(b.current(), 'closed');
  assert.deepEqual(changes, ['open:down', 'half_open', 'closed']);
});

test('a failed trial opens the circuit again for a full cool-down; an abandoned trial frees the slot', () => {
  const { b, clock } = breaker(2, 500);
  b.failure('a');
  b.failure('b');
  clock.t = 500;
  assert.equal(b.startTrial(), true);
  b.abandonTrial();
  assert.equal(b.startTrial(), true, 'the trial can be claimed again after an abandon');
  clock.t = 600;
  b.failure('still down');
  assert.equal(b.current(), 'open');
  clock.t = 1099;
  assert.equal(b.current(), 'open');
  clock.t = 1100;
  assert.equal(b.current(), 'half_open');
});

test('connect errors, timeouts, lost connections, garbage and 5xx count against a host; 4xx, busy and aborts do not', () => {
  const err = (code: ProviderErrorCode, status?: number): ProviderError =>
    new ProviderError({ provider: 'ollama', code, message: 'x', ...(status === undefined ? {} : { status }) });
  for (const code of ['unavailable', 'timeout', 'connection_lost', 'protocol'] as const) assert.equal(countsAgainstHost(err(code)), true, code);
  assert.equal(countsAgainstHost(err('server_error', 500)), true);
  assert.equal(countsAgainstHost(err('server_error', 503)), true);
  for (const code of ['model_not_found', 'bad_request', 'auth', 'rate_limited', 'busy', 'aborted', 'context_overflow', 'unsupported'] as const) {
    assert.equal(countsAgainstHost(err(code, 400)), false, code);
  }
  assert.equal(countsAgainstHost(new Error('plain')), false);
});
