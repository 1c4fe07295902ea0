import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GGUF_MAGIC,
  GgmlType,
  alignTo,
  decodeTensorData,
  encodeF16,
  encodeF32,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  readGguf,
  writeGguf,
} from '../../scripts/lib/gguf.js';
import type { GgufKV } from '../../scripts/lib/gguf.js';

/** Little-endian byte builders, written out independently of the module under test. */
const le = {
  u32: (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; },
  i32: (v: number) => { const b = Buffer.alloc(4); b.writeInt32LE(v); return b; },
  u64: (v: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; },
  f32: (v: number) => { const b = Buffer.alloc(4); b.writeFloatLE(v); return b; },
  str: (s: string) => Buffer.concat([le.u64(Buffer.byteLength(s)), Buffer.from(s, 'utf8')]),
};

describe('GGUF writer: exact byte layout (GGUF v3 spec)', () => {
  test('header, one KV, one tensor info, padding and data are where the spec puts them', () => {
    const bytes = writeGguf({
      kv: [{ key: 'a', type: 'uint32', value: 7 }],
      tensors: [{ name: 'w', dims: [2], type: GgmlType.F32, data: encodeF32([1, 2]) }],
    });
    const head = Buffer.concat([
      Buffer.from('GGUF', 'ascii'),
      le.u32(3), // version
      le.u64(1), // tensor_count
      le.u64(1), // metadata_kv_count
      le.str('a'), le.u32(4 /* UINT32 */), le.u32(7),
      le.str('w'), le.u32(1 /* n_dims */), le.u64(2), le.u32(0 /* F32 */), le.u64(0 /* offset */),
    ]);
    assert.equal(head.length, 74);
    const expected = Buffer.concat([head, Buffer.alloc(96 - 74), le.f32(1), le.f32(2)]);
    assert.deepEqual(Buffer.from(bytes), expected);
  });

  test('strings are u64-length-prefixed UTF-8 without terminator; arrays carry item type and u64 count', () => {
    const bytes = writeGguf({
      kv: [
        { key: 'name', type: 'string', value: 'héllo' },
        { key: 'list', type: 'array', itemType: 'string', value: ['x', 'yz'] },
        { key: 'ints', type: 'array', itemType: 'int32', value: [-1, 6] },
      ],
      tensors: [],
    });
    const expected = Buffer.concat([
      Buffer.from('GGUF', 'ascii'), le.u32(3), le.u64(0), le.u64(3),
      le.str('name'), le.u32(8), le.str('héllo'),
      le.str('list'), le.u32(9), le.u32(8), le.u64(2), le.str('x'), le.str('yz'),
      le.str('ints'), le.u32(9), le.u32(5), le.u64(2), le.i32(-1), le.i32(6),
    ]);
    // With no tensors the file is the header plus padding to the alignment.
    assert.deepEqual(Buffer.from(bytes.subarray(0, expected.length)), expected);
    assert.equal(bytes.length, alignTo(expected.length, 32));
    assert.ok(bytes.subarray(expected.length).every((b) => b === 0));
  });

  test('the magic reads as 0x46554747 little-endian', () => {
    const bytes = writeGguf({ kv: [], tensors: [] });
    assert.equal(new DataView(bytes.buffer).getUint32(0, true), GGUF_MAGIC);
    assert.equal(Buffer.from(bytes.subarray(0, 4)).toString('ascii'), 'GGUF');
  });
});

describe('GGUF writer and reader round trip', () => {
  const kv: GgufKV[] = [
    { key: 'general.alignment', type: 'uint32', value: 32 },
    { key: 'u8', type: 'uint8', value: 255 },
    { key: 'i8', type: 'int8', value: -128 },
    { key: 'u16', type: 'uint16', value: 65535 },
    { key: 'i16', type: 'int16', value: -32768 },
    { key: 'u32', type: 'uint32', value: 4294967295 },
    { key: 'i32', type: 'int32', value: -2147483648 },
    { key: 'f32', type: 'float32', value: 0.5 },
    { key: 'f64', type: 'float64', value: 1e-300 },
    { key: 'bool', type: 'bool', value: true },
    { key: 'str', type: 'string', value: 'ChatML <|im_start|>\n' },
    { key: 'u64', type: 'uint64', value: 2n ** 64n - 1n },
    { key: 'i64', type: 'int64', value: -(2n ** 63n) },
    { key: 'arr.f32', type: 'array', itemType: 'float32', value: [0, -1.5, 3] },
    { key: 'arr.bool', type: 'array', itemType: 'bool', value: [true, false] },
    { key: 'arr.empty', type: 'array', itemType: 'string', value: [] },
  ];
  const tensors = [
    // Odd sizes so that every tensor after the first needs padding.
    { name: 'a', dims: [3], type: GgmlType.F32, data: encodeF32([1, 2, 3]) },
    { name: 'b', dims: [5, 3], type: GgmlType.F16, data: encodeF16(Array.from({ length: 15 }, (_, i) => i / 4)) },
    { name: 'c', dims: [1], type: GgmlType.F16, data: encodeF16([-2]) },
  ];
  const bytes = writeGguf({ kv, tensors });
  const file = readGguf(bytes);

  test('every KV keeps its type, value and order', () => {
    assert.equal(file.version, 3);
    assert.deepEqual(file.kvOrder, kv.map((k) => k.key));
    for (const entry of kv) {
      const got = file.kv.get(entry.key);
      assert.ok(got, entry.key);
      assert.equal(got.type, entry.type, entry.key);
      if (entry.type === 'array') {
        assert.equal(got.type === 'array' && got.itemType, entry.itemType);
        assert.deepEqual(got.value, entry.value);
      } else {
        assert.equal(got.value, entry.value, entry.key);
      }
    }
  });

  test('tensor infos: dims in ggml order, types, aligned non-overlapping offsets', () => {
    assert.deepEqual(file.tensors.map((t) => [t.name, t.dims, t.type]), [
      ['a', [3], GgmlType.F32],
      ['b', [5, 3], GgmlType.F16],
      ['c', [1], GgmlType.F16],
    ]);
    assert.equal(file.alignment, 32);
    assert.equal(file.dataOffset % 32, 0);
    assert.ok(file.dataOffset >= file.headerEnd && file.dataOffset - file.headerEnd < 32);
    for (const t of file.tensors) assert.equal(t.offset % 32, 0, t.name);
    assert.deepEqual(file.tensors.map((t) => t.offset), [0, 32, 64]);
    assert.equal(bytes.length, file.dataOffset + 64 + 2);
  });

  test('tensor data comes back bit for bit', () => {
    assert.deepEqual(decodeTensorData(GgmlType.F32, file.tensors[0]!.data), [1, 2, 3]);
    assert.deepEqual(decodeTensorData(GgmlType.F16, file.tensors[1]!.data), Array.from({ length: 15 }, (_, i) => i / 4));
    assert.deepEqual(decodeTensorData(GgmlType.F16, file.tensors[2]!.data), [-2]);
  });

  test('a custom general.alignment is honoured', () => {
    const f = readGguf(
      writeGguf({
        kv: [{ key: 'general.alignment', type: 'uint32', value: 64 }],
        tensors: tensors.slice(0, 2),
      }),
    );
    assert.equal(f.alignment, 64);
    assert.equal(f.dataOffset % 64, 0);
    assert.deepEqual(f.tensors.map((t) => t.offset), [0, 64]);
  });
});

describe('GGUF writer rejects malformed input', () => {
  const t = (name: string) => ({ name, dims: [1], type: GgmlType.F32, data: encodeF32([0]) });
  test('duplicate keys and tensor names', () => {
    assert.throws(() => writeGguf({ kv: [{ key: 'k', type: 'bool', value: true }, { key: 'k', type: 'bool', value: false }], tensors: [] }), /duplicate GGUF key k/);
    assert.throws(() => writeGguf({ kv: [], tensors: [t('x'), t('x')] }), /duplicate tensor x/);
  });
  test('values that do not fit their declared type', () => {
    assert.throws(() => writeGguf({ kv: [{ key: 'k', type: 'uint8', value: 256 }], tensors: [] }), /does not fit type uint8/);
    assert.throws(() => writeGguf({ kv: [{ key: 'k', type: 'uint32', value: 1.5 }], tensors: [] }), /does not fit/);
    assert.throws(() => writeGguf({ kv: [{ key: 'k', type: 'string', value: 3 }], tensors: [] }), /does not fit/);
    assert.throws(() => writeGguf({ kv: [{ key: 'k', type: 'array', itemType: 'int32', value: [1, 'x'] }], tensors: [] }), /does not fit/);
  });
  test('data whose size does not match the dims', () => {
    assert.throws(() => writeGguf({ kv: [], tensors: [{ name: 'w', dims: [4], type: GgmlType.F16, data: new Uint8Array(6) }] }), /expected 8 bytes/);
  });
});

describe('GGUF reader rejects corrupt files', () => {
  const good = writeGguf({ kv: [{ key: 'k', type: 'string', value: 'v' }], tensors: [{ name: 'w', dims: [8], type: GgmlType.F32, data: encodeF32(new Array(8).fill(1)) }] });
  test('bad magic', () => {
    const bad = Uint8Array.from(good);
    bad[0] = 0x58;
    assert.throws(() => readGguf(bad), /bad magic/);
  });
  test('unsupported version', () => {
    const bad = Uint8Array.from(good);
    new DataView(bad.buffer).setUint32(4, 4, true);
    assert.throws(() => readGguf(bad), /unsupported GGUF version 4/);
  });
  test('truncated data section', () => {
    assert.throws(() => readGguf(good.subarray(0, good.length - 1)), /past the end/);
  });
  test('truncated header', () => {
    assert.throws(() => readGguf(good.subarray(0, 30)), /truncated/);
  });
});

describe('F16 conversion', () => {
  test('known values', () => {
    const cases: [number, number][] = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff],
      [65520, 0x7c00] /* rounds up to infinity */, [Infinity, 0x7c00], [-Infinity, 0xfc00],
      [2 ** -14, 0x0400] /* smallest normal */, [2 ** -24, 0x0001] /* smallest subnormal */,
      [2 ** -26, 0x0000] /* underflows */, [1 + 2 ** -11, 0x3c00] /* tie -> even */, [1 + 3 * 2 ** -11, 0x3c02] /* tie -> even */,
      [0.1, 0x2e66],
    ];
    for (const [value, bits] of cases) assert.equal(float32ToFloat16Bits(value), bits, `f16(${value})`);
    assert.equal(float32ToFloat16Bits(NaN) & 0x7c00, 0x7c00);
    assert.notEqual(float32ToFloat16Bits(NaN) & 0x03ff, 0);
  });

  test('every finite half survives half -> float -> half', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      assert.equal(float32ToFloat16Bits(float16BitsToFloat32(h)), h);
    }
  });
});
