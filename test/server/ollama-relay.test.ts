/**
 * The relay's stream tail (ollama-relay.ts): what it keeps must end with the stream's last
 * bytes, however the stream was cut into pieces, and must not grow with the stream.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Tail } from '../../src/server/ollama-relay.js';

/** A stream of `n` bytes with a recognisable pattern, cut into pieces of the given sizes in turn. */
function pieces(n: number, sizes: number[]): Buffer[] {
  const all = Buffer.alloc(n);
  for (let i = 0; i < n; i++) all[i] = (i * 31 + 7) % 251;
  const out: Buffer[] = [];
  for (let off = 0, k = 0; off < n; k++) {
    const len = Math.min(sizes[k % sizes.length] as number, n - off);
    out.push(all.subarray(off, off + len));
    off += len;
  }
  return out;
}

describe('relay tail', () => {
  for (const [name, sizes] of [
    ['small pieces', [1, 7, 300, 2]],
    ['pieces around the kept size', [1000, 1024, 1100, 3]],
    ['pieces larger than the kept size', [5000, 10]],
    ['empty pieces among others', [0, 512, 0, 64]],
  ] as const) {
    test(`keeps at least the last bytes, and not the whole stream, with ${name}`, () => {
      const keep = 1024;
      const parts = pieces(200_000, [...sizes]);
      const whole = Buffer.concat(parts);
      const tail = new Tail(keep);
      let largest = 0;
      for (const p of parts) {
        tail.push(p);
        largest = Math.max(largest, p.length);
      }
      const kept = tail.bytes();
      assert.ok(kept.length >= keep, `kept ${kept.length} bytes, want at least ${keep}`);
      assert.ok(kept.length < keep + largest, `kept ${kept.length} bytes: older pieces were not let go`);
      assert.ok(kept.equals(whole.subarray(whole.length - kept.length)), 'the kept bytes are not the end of the stream');
    });
  }

  test('a stream shorter than the kept size is kept whole; nothing gives an empty buffer', () => {
    const tail = new Tail(64 * 1024);
    assert.equal(tail.bytes().length, 0);
    tail.push(Buffer.from('{"done":false}\n'));
    tail.push(Buffer.from('{"done":true,"eval_count":3}\n'));
    assert.equal(tail.bytes().toString(), '{"done":false}\n{"done":true,"eval_count":3}\n');
  });
});
