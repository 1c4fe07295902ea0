import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter, LineTooLongError } from '../../src/http/ndjson.js';

/** Feeds `chunks` through a splitter and returns every line, including an unterminated tail. */
function split(chunks: Buffer[], options?: { maxLineBytes?: number }): string[] {
  const s = new LineSplitter(options);
  const out: string[] = [];
  for (const c of chunks) {
    s.push(c);
    for (let line = s.next(); line !== undefined; line = s.next()) out.push(line);
  }
  const tail = s.end();
  if (tail !== undefined) out.push(tail);
  return out;
}

const SAMPLE = 'héllo 世界 🙂';
const LINES = [
  JSON.stringify({ message: { content: SAMPLE } }),
  JSON.stringify({ message: { content: 'ü' } }),
  JSON.stringify({ message: { content: '🙂🙂' }, done: true }),
];
const BYTES = Buffer.from(LINES.join('\n') + '\n', 'utf8');

test('a stream split at every byte boundary decodes every multi-byte character intact', () => {
  for (let i = 0; i <= BYTES.length; i++) {
    const lines = split([BYTES.subarray(0, i), BYTES.subarray(i)]);
    assert.deepEqual(lines, LINES, `split at byte ${i}`);
  }
});

test('every pair of split points (three chunks) also decodes intact', () => {
  for (let i = 0; i <= BYTES.length; i++) {
    for (let j = i; j <= BYTES.length; j += 3) {
      const lines = split([BYTES.subarray(0, i), BYTES.subarray(i, j), BYTES.subarray(j)]);
      assert.deepEqual(lines, LINES, `split at ${i},${j}`);
    }
  }
});

test('one byte per chunk', () => {
  const chunks: Buffer[] = [];
  for (let i = 0; i < BYTES.length; i++) chunks.push(BYTES.subarray(i, i + 1));
  assert.deepEqual(split(chunks), LINES);
});

test('many lines in one chunk, CRLF endings, empty lines and an unterminated tail', () => {
  const text = '{"a":1}\r\n\n{"b":"é"}\n\r\n{"c":3}';
  assert.deepEqual(split([Buffer.from(text)]), ['{"a":1}', '{"b":"é"}', '{"c":3}']);
});

test('a CR split from its LF across chunks is still removed', () => {
  assert.deepEqual(split([Buffer.from('{"a":1}\r'), Buffer.from('\n{"b":2}\n')]), ['{"a":1}', '{"b":2}']);
});

test('a line spanning many chunks is joined once', () => {
  const long = 'x'.repeat(10_000);
  const bytes = Buffer.from(`${long}\nshort\n`);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
  assert.deepEqual(split(chunks), [long, 'short']);
});

test('pushing before draining keeps the unread rest', () => {
  const s = new LineSplitter();
  s.push(Buffer.from('{"a":1}\n{"b"'));
  assert.equal(s.next(), '{"a":1}');
  s.push(Buffer.from(':2}\n'));
  assert.equal(s.next(), '{"b":2}');
  assert.equal(s.next(), undefined);
  assert.equal(s.end(), undefined);
});

test('pendingBytes counts what waits for a newline', () => {
  const s = new LineSplitter();
  s.push(Buffer.from('abc\ndef'));
  assert.equal(s.next(), 'abc');
  assert.equal(s.next(), undefined);
  assert.equal(s.pendingBytes, 3);
});

test('a line longer than the limit throws LineTooLongError', () => {
  assert.throws(
    () => split([Buffer.from('x'.repeat(50)), Buffer.from('y'.repeat(60))], { maxLineBytes: 100 }),
    (e: unknown) => e instanceof LineTooLongError && e.maxLineBytes === 100,
  );
  // Lines within the limit are fine, however many chunks they span.
  assert.deepEqual(split([Buffer.from('x'.repeat(50)), Buffer.from('y'.repeat(40) + '\n')], { maxLineBytes: 100 }), [
    'x'.repeat(50) + 'y'.repeat(40),
  ]);
});
