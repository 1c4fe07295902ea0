import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser, parseSse } from '../../src/http/sse.js';
import type { SseEvent } from '../../src/http/sse.js';
import { LineTooLongError } from '../../src/http/ndjson.js';

/** Feeds `chunks` through one parser and returns every event, including those flushed by `end()`. */
function parse(chunks: Uint8Array[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const c of chunks) out.push(...p.push(c));
  out.push(...p.end());
  return out;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A stream exercising every rule at once; multi-byte characters of 2, 3 and 4 bytes. */
const STREAM =
  '\uFEFF: keep-alive comment\r\n' +
  'event: ping\r\n' +
  'data: héllo\r\n' +
  'data:  two spaces keep one\r\n' +
  '\r\n' +
  'id: 7\n' +
  'data: 世界\n' +
  'data\n' +
  'retry: 1500\n' +
  '\n' +
  'data: {"x":"🙂"}\r' +
  '\r' +
  'event: done\n' +
  'data: [DONE]\n\n';

const EXPECTED: SseEvent[] = [
  { event: 'ping', data: 'héllo\n two spaces keep one' },
  { event: 'message', data: '世界\n', id: '7', retry: 1500 },
  { event: 'message', data: '{"x":"🙂"}', id: '7' },
  { event: 'done', data: '[DONE]', id: '7' },
];

test('a stream with every field, comments, a BOM and mixed line endings parses per the spec', () => {
  assert.deepEqual(parse([enc(STREAM)]), EXPECTED);
});

test('the stream split at every byte boundary gives the same events', () => {
  const bytes = enc(STREAM);
  for (let i = 0; i <= bytes.length; i++) {
    assert.deepEqual(parse([bytes.subarray(0, i), bytes.subarray(i)]), EXPECTED, `split at byte ${i}`);
  }
});

test('every pair of split points (three chunks) gives the same events', () => {
  const bytes = enc(STREAM);
  for (let i = 0; i <= bytes.length; i++) {
    for (let j = i; j <= bytes.length; j++) {
      const chunks = [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)];
      assert.deepEqual(parse(chunks), EXPECTED, `split at ${i},${j}`);
    }
  }
});

test('one byte per chunk', () => {
  const bytes = enc(STREAM);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
  assert.deepEqual(parse(chunks), EXPECTED);
});

test('push returns an event as soon as its blank line arrives, not before', () => {
  const p = new SseParser();
  assert.deepEqual(p.push(enc('data: a\n')), []);
  assert.deepEqual(p.push(enc('\n')), [{ event: 'message', data: 'a' }]);
  assert.deepEqual(p.push(enc('data: b\r')), []);
  // The CR already ended the line; the blank line is the next CR.
  assert.deepEqual(p.push(enc('\r')), [{ event: 'message', data: 'b' }]);
  assert.deepEqual(p.end(), []);
});

test('a CR at the end of a chunk and the LF starting the next count as one line ending', () => {
  // Were the LF taken as a second ending, the blank line would dispatch "a" alone early.
  assert.deepEqual(parse([enc('data: a\r'), enc('\ndata: b\r\n\r\n')]), [{ event: 'message', data: 'a\nb' }]);
});

test('a missing trailing blank line at end of stream still dispatches the last event', () => {
  assert.deepEqual(parse([enc('data: one\n\ndata: [DONE]')]), [
    { event: 'message', data: 'one' },
    { event: 'message', data: '[DONE]' },
  ]);
  assert.deepEqual(parse([enc('event: x\ndata: y\n')]), [{ event: 'x', data: 'y' }]);
});

test('blank lines without data dispatch nothing and reset the event type', () => {
  assert.deepEqual(parse([enc('event: lost\n\n\n\ndata: z\n\n')]), [{ event: 'message', data: 'z' }]);
});

test('an empty data field dispatches an event with empty data', () => {
  assert.deepEqual(parse([enc('data:\n\ndata\n\n')]), [
    { event: 'message', data: '' },
    { event: 'message', data: '' },
  ]);
});

test('unknown fields, invalid retry values and ids with NUL are ignored', () => {
  const events = parse([enc('foo: bar\nretry: 12x\nid: a\0b\ndata: q\n\n')]);
  assert.deepEqual(events, [{ event: 'message', data: 'q' }]);
});

test('only one space after the colon is removed, and a field without colon has an empty value', () => {
  assert.deepEqual(parse([enc('data:   x \n\n')]), [{ event: 'message', data: '  x ' }]);
  assert.deepEqual(parse([enc('event\ndata:v\n\n')]), [{ event: 'message', data: 'v' }]);
});

test('a BOM is removed only at the start of the stream', () => {
  const bom = new Uint8Array([0xef, 0xbb, 0xbf]);
  const rest = enc('data: a\n\ndata: \uFEFFb\n\n');
  // BOM split across chunks, byte by byte.
  const events = parse([bom.subarray(0, 1), bom.subarray(1, 2), bom.subarray(2), rest]);
  assert.deepEqual(events, [
    { event: 'message', data: 'a' },
    { event: 'message', data: '\uFEFFb' },
  ]);
});

test('the id persists across events and an empty id clears it', () => {
  assert.deepEqual(parse([enc('id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n')]), [
    { event: 'message', data: 'a', id: '1' },
    { event: 'message', data: 'b', id: '1' },
    { event: 'message', data: 'c' },
  ]);
});

test('a line longer than the limit throws instead of growing without bound', () => {
  const p = new SseParser({ maxEventSize: 100 });
  assert.throws(() => {
    for (let i = 0; i < 20; i++) p.push(enc('data: xxxxxxxxxx'));
  }, LineTooLongError);
  const q = new SseParser({ maxEventSize: 100 });
  assert.throws(() => {
    for (let i = 0; i < 20; i++) q.push(enc('data: xxxxxxxxxx\n'));
  }, LineTooLongError);
});

test('the parser is reusable after end()', () => {
  const p = new SseParser();
  p.push(enc('id: 5\nevent: e\ndata: partial'));
  assert.deepEqual(p.end(), [{ event: 'e', data: 'partial', id: '5' }]);
  assert.deepEqual(p.push(enc('\uFEFFdata: fresh\n\n')), [{ event: 'message', data: 'fresh' }]);
});

test('parseSse yields events from an async iterable and stops the source when the loop exits early', async () => {
  const src = { returned: 0 };
  const bytes = enc('data: 1\n\ndata: 2\n\ndata: 3\n\n');
  async function* source(): AsyncGenerator<Uint8Array> {
    try {
      for (let i = 0; i < bytes.length; i += 5) yield bytes.subarray(i, i + 5);
    } finally {
      src.returned++;
    }
  }
  const all: string[] = [];
  for await (const e of parseSse(source())) all.push(e.data);
  assert.deepEqual(all, ['1', '2', '3']);
  assert.equal(src.returned, 1);

  const seen: string[] = [];
  const gen = source();
  for await (const e of parseSse(gen)) {
    seen.push(e.data);
    break;
  }
  assert.deepEqual(seen, ['1']);
  assert.equal(src.returned, 2, 'breaking out returned the source');
});
