import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retryAfterMs } from '../../src/http/retry-after.js';

const NOW = Date.parse('2025-07-07T12:00:00Z');

test('Retry-After in seconds, fractional seconds, and as an HTTP date', () => {
  assert.equal(retryAfterMs({ 'retry-after': '7' }, NOW), 7000);
  assert.equal(retryAfterMs({ 'retry-after': ' 0.5 ' }, NOW), 500);
  assert.equal(retryAfterMs({ 'retry-after': 'Mon, 07 Jul 2025 12:00:30 GMT' }, NOW), 30_000);
  // A date in the past means "now".
  assert.equal(retryAfterMs({ 'retry-after': 'Mon, 07 Jul 2025 11:00:00 GMT' }, NOW), 0);
});

test('retry-after-ms (OpenAI) wins over retry-after', () => {
  assert.equal(retryAfterMs({ 'retry-after-ms': '1500', 'retry-after': '9' }, NOW), 1500);
  assert.equal(retryAfterMs({ 'retry-after-ms': 'soon', 'retry-after': '9' }, NOW), 9000);
});

test('absent, negative or garbage values are undefined; absurd waits are capped at a day', () => {
  assert.equal(retryAfterMs({}, NOW), undefined);
  assert.equal(retryAfterMs({ 'retry-after': '-3' }, NOW), undefined);
  assert.equal(retryAfterMs({ 'retry-after': 'later' }, NOW), undefined);
  assert.equal(retryAfterMs({ 'retry-after': '12abc' }, NOW), undefined);
  assert.equal(retryAfterMs({ 'retry-after': '99999999' }, NOW), 24 * 60 * 60 * 1000);
});
