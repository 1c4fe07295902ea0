/**
 * docs/server.md's status table says what the server does: one row per ProviderError code,
 * with the status STATUS_BY_CODE gives it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PROVIDER_ERROR_CODES } from '../../src/core/errors.js';
import { STATUS_BY_CODE } from '../../src/server/errors.js';

test('docs/server.md lists every ProviderError code with the status the server uses', () => {
  const doc = readFileSync(new URL('../../docs/server.md', import.meta.url), 'utf8');
  const table = doc.slice(doc.indexOf('<!-- status-table'), doc.indexOf('<!-- /status-table -->'));
  const rows = new Map([...table.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]));
  assert.deepEqual([...rows.keys()].sort(), [...PROVIDER_ERROR_CODES].sort());
  for (const code of PROVIDER_ERROR_CODES) assert.equal(rows.get(code), STATUS_BY_CODE[code], code);
});
