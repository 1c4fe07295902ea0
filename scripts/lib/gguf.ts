/**
 * A minimal GGUF v3 writer and reader, with no dependencies.
 *
 * Layout (little-endian throughout), per the GGUF spec in ggml's docs/gguf.md:
 *   magic "GGUF" | version u32 = 3 | tensor_count u64 | kv_count u64
 *   kv_count x (key: string, value_type u32, value)
 *   tensor_count x (name: string, n_dims u32, dims u64[n_dims] in ggml order, ggml_type u32, offset u64)
 *   padding to `general.alignment` | tensor data, each tensor at an offset that is a multiple of the alignment
 * A string is a u64 byte length followed by UTF-8 bytes (no terminator). An array is
 * item type u32, count u64, then the items.
 *
 * The reader exists so tests can check the writer against the spec independently of
 * the writer's own bookkeeping, and so a generated file can be inspected.
 */

/** "GGUF" read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
/** The only version this module writes. */
export const GGUF_VERSION = 3;
/** Alignment used when `general.alignment` is absent (the spec's default). */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** GGUF metadata value types, with their numeric ids from the spec. */
export const GgufValueType = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

/** Name of a non-array metadata value type. */
export type GgufScalarType = Exclude<keyof typeof GgufValueType, 'array'>;

/** A value of a scalar type: numbers, except 64-bit integers which are bigints. */
export type GgufScalar = number | bigint | boolean | string;

/** One metadata entry, typed explicitly because JSON-like values cannot say u32 from f32. */
export type GgufKV =
  | { key: string; type: GgufScalarType; value: GgufScalar }
  | { key: string; type: 'array'; itemType: GgufScalarType; value: readonly GgufScalar[] };

/** ggml tensor types this module can write (ids from ggml.h). */
export const GgmlType = { F32: 0, F16: 1 } as const;
/** A ggml tensor type id understood here. */
export type GgmlTypeId = (typeof GgmlType)[keyof typeof GgmlType];

const GGML_TYPE_SIZE: Record<number, number> = { [GgmlType.F32]: 4, [GgmlType.F16]: 2 };

/** A tensor to write. `dims` is in ggml order: `dims[0]` is the fastest-varying (row length). */
export interface GgufTensorInput {
  name: string;
  dims: readonly number[];
  type: GgmlTypeId;
  /** Raw little-endian element data, exactly product(dims) * element size bytes. */
  data: Uint8Array;
}

/** Everything needed to write one GGUF file. */
export interface GgufInput {
  kv: readonly GgufKV[];
  tensors: readonly GgufTensorInput[];
}

/** A tensor as read back from a file. */
export interface GgufTensorInfo {
  name: string;
  dims: number[];
  type: number;
  /** Offset relative to the start of the data section. */
  offset: number;
  /** Byte size of the tensor's data. */
  size: number;
  /** The tensor's bytes (a view into the file). */
  data: Uint8Array;
}

/** A metadata value as read back: scalars, or arrays with their item type. */
export type GgufReadValue =
  | { type: GgufScalarType; value: GgufScalar }
  | { type: 'array'; itemType: GgufScalarType; value: GgufScalar[] };

/** A parsed GGUF file. */
export interface GgufFile {
  version: number;
  kv: Map<string, GgufReadValue>;
  /** Metadata keys in file order. */
  kvOrder: string[];
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute offset of the data section. */
  dataOffset: number;
  /** Absolute offset where the tensor-info section ended (before padding). */
  headerEnd: number;
}

/** Rounds `n` up to a multiple of `alignment`. */
export function alignTo(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Byte size of a tensor of `type` with `dims`. */
export function tensorByteSize(type: number, dims: readonly number[]): number {
  const elementSize = GGML_TYPE_SIZE[type];
  if (elementSize === undefined) throw new Error(`unsupported ggml type ${type}`);
  return dims.reduce((a, b) => a * b, 1) * elementSize;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 binary32 -> binary16 bits, rounding to nearest even (as ggml's converter does). */
export function float32ToFloat16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** IEEE 754 binary16 bits -> number. */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Encodes numbers as little-endian F16 tensor data. */
export function encodeF16(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(i * 2, float32ToFloat16Bits(values[i]!), true);
  return out;
}

/** Encodes numbers as little-endian F32 tensor data. */
export function encodeF32(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

/** Decodes little-endian F16 or F32 tensor data into numbers. */
export function decodeTensorData(type: number, data: Uint8Array): number[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: number[] = [];
  if (type === GgmlType.F16) {
    for (let i = 0; i + 2 <= data.byteLength; i += 2) out.push(float16BitsToFloat32(view.getUint16(i, true)));
  } else if (type === GgmlType.F32) {
    for (let i = 0; i + 4 <= data.byteLength; i += 4) out.push(view.getFloat32(i, true));
  } else {
    throw new Error(`unsupported ggml type ${type}`);
  }
  return out;
}

/** Growable little-endian byte sink. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void { this.reserve(1); this.view.setUint8(this.length, v); this.length += 1; }
  i8(v: number): void { this.reserve(1); this.view.setInt8(this.length, v); this.length += 1; }
  u16(v: number): void { this.reserve(2); this.view.setUint16(this.length, v, true); this.length += 2; }
  i16(v: number): void { this.reserve(2); this.view.setInt16(this.length, v, true); this.length += 2; }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number): void { this.reserve(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number): void { this.reserve(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  f64(v: number): void { this.reserve(8); this.view.setFloat64(this.length, v, true); this.length += 8; }
  u64(v: number | bigint): void { this.reserve(8); this.view.setBigUint64(this.length, BigInt(v), true); this.length += 8; }
  i64(v: number | bigint): void { this.reserve(8); this.view.setBigInt64(this.length, BigInt(v), true); this.length += 8; }
  bytes(b: Uint8Array): void { this.reserve(b.length); this.buf.set(b, this.length); this.length += b.length; }
  string(s: string): void { const b = new TextEncoder().encode(s); this.u64(b.length); this.bytes(b); }
  pad(alignment: number): void { const n = alignTo(this.length, alignment) - this.length; this.reserve(n); this.length += n; }
  result(): Uint8Array { return this.buf.slice(0, this.length); }
}

function checkScalar(key: string, type: GgufScalarType, value: GgufScalar): void {
  const bad = (): never => {
    throw new Error(`GGUF key ${key}: value ${String(value)} does not fit type ${type}`);
  };
  switch (type) {
    case 'string': if (typeof value !== 'string') bad(); return;
    case 'bool': if (typeof value !== 'boolean') bad(); return;
    case 'uint64': case 'int64': if (typeof value !== 'bigint' && !Number.isInteger(value)) bad(); return;
    case 'float32': case 'float64': if (typeof value !== 'number') bad(); return;
    default: {
      const ranges: Record<string, [number, number]> = {
        uint8: [0, 0xff], int8: [-0x80, 0x7f], uint16: [0, 0xffff], int16: [-0x8000, 0x7fff],
        uint32: [0, 0xffffffff], int32: [-0x80000000, 0x7fffffff],
      };
      const [lo, hi] = ranges[type]!;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) bad();
    }
  }
}

function writeScalar(w: ByteWriter, type: GgufScalarType, value: GgufScalar): void {
  switch (type) {
    case 'uint8': w.u8(value as number); break;
    case 'int8': w.i8(value as number); break;
    case 'uint16': w.u16(value as number); break;
    case 'int16': w.i16(value as number); break;
    case 'uint32': w.u32(value as number); break;
    case 'int32': w.i32(value as number); break;
    case 'float32': w.f32(value as number); break;
    case 'float64': w.f64(value as number); break;
    case 'bool': w.u8(value ? 1 : 0); break;
    case 'string': w.string(value as string); break;
    case 'uint64': w.u64(value as number | bigint); break;
    case 'int64': w.i64(value as number | bigint); break;
  }
}

/**
 * Serialises a GGUF v3 file. Tensor data is laid out in input order, each tensor starting
 * at a multiple of the alignment (`general.alignment` when present, else 32).
 */
export function writeGguf(input: GgufInput): Uint8Array {
  const seen = new Set<string>();
  for (const kv of input.kv) {
    if (seen.has(kv.key)) throw new Error(`duplicate GGUF key ${kv.key}`);
    seen.add(kv.key);
    if (kv.type === 'array') for (const v of kv.value) checkScalar(kv.key, kv.itemType, v);
    else checkScalar(kv.key, kv.type, kv.value);
  }
  const alignmentKV = input.kv.find((kv) => kv.key === 'general.alignment');
  const alignment = alignmentKV && alignmentKV.type === 'uint32' ? (alignmentKV.value as number) : GGUF_DEFAULT_ALIGNMENT;
  if (alignment <= 0 || alignment % 8 !== 0) throw new Error(`general.alignment must be a positive multiple of 8, got ${alignment}`);

  const names = new Set<string>();
  const offsets: number[] = [];
  let dataSize = 0;
  for (const t of input.tensors) {
    if (names.has(t.name)) throw new Error(`duplicate tensor ${t.name}`);
    names.add(t.name);
    if (t.dims.length < 1 || t.dims.length > 4) throw new Error(`tensor ${t.name}: 1 to 4 dimensions allowed`);
    const size = tensorByteSize(t.type, t.dims);
    if (size !== t.data.byteLength) throw new Error(`tensor ${t.name}: expected ${size} bytes of data, got ${t.data.byteLength}`);
    dataSize = alignTo(dataSize, alignment);
    offsets.push(dataSize);
    dataSize += size;
  }

  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(input.tensors.length);
  w.u64(input.kv.length);
  for (const kv of input.kv) {
    w.string(kv.key);
    w.u32(GgufValueType[kv.type]);
    if (kv.type === 'array') {
      w.u32(GgufValueType[kv.itemType]);
      w.u64(kv.value.length);
      for (const v of kv.value) writeScalar(w, kv.itemType, v);
    } else {
      writeScalar(w, kv.type, kv.value);
    }
  }
  input.tensors.forEach((t, i) => {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(offsets[i]!);
  });
  w.pad(alignment);
  const dataStart = w.length;
  input.tensors.forEach((t, i) => {
    w.pad(alignment);
    if (w.length - dataStart !== offsets[i]) throw new Error('internal: tensor offset mismatch');
    w.bytes(t.data);
  });
  return w.result();
}

const TYPE_NAMES = Object.fromEntries(Object.entries(GgufValueType).map(([k, v]) => [v, k])) as Record<
  number,
  keyof typeof GgufValueType
>;

/**
 * Parses a GGUF v2/v3 file strictly: bad magic, unknown value types, misaligned or
 * overlapping tensors, or data past the end of the file are errors.
 */
export function readGguf(bytes: Uint8Array): GgufFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  const need = (n: number): void => {
    if (pos + n > bytes.byteLength) throw new Error(`GGUF truncated at byte ${pos} (needed ${n} more)`);
  };
  const u32 = (): number => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const u64 = (): bigint => { need(8); const v = view.getBigUint64(pos, true); pos += 8; return v; };
  const u64n = (): number => {
    const v = u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`GGUF value ${v} too large`);
    return Number(v);
  };
  const str = (): string => {
    const n = u64n();
    need(n);
    const s = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(pos, pos + n));
    pos += n;
    return s;
  };
  const scalar = (type: GgufScalarType): GgufScalar => {
    switch (type) {
      case 'uint8': need(1); return view.getUint8(pos++);
      case 'int8': need(1); return view.getInt8(pos++);
      case 'uint16': { need(2); const v = view.getUint16(pos, true); pos += 2; return v; }
      case 'int16': { need(2); const v = view.getInt16(pos, true); pos += 2; return v; }
      case 'uint32': return u32();
      case 'int32': { need(4); const v = view.getInt32(pos, true); pos += 4; return v; }
      case 'float32': { need(4); const v = view.getFloat32(pos, true); pos += 4; return v; }
      case 'float64': { need(8); const v = view.getFloat64(pos, true); pos += 8; return v; }
      case 'bool': {
        need(1);
        const b = view.getUint8(pos++);
        if (b > 1) throw new Error(`GGUF bool must be 0 or 1, got ${b}`);
        return b === 1;
      }
      case 'string': return str();
      case 'uint64': return u64();
      case 'int64': { need(8); const v = view.getBigInt64(pos, true); pos += 8; return v; }
    }
  };
  const typeName = (id: number): keyof typeof GgufValueType => {
    const name = TYPE_NAMES[id];
    if (name === undefined) throw new Error(`unknown GGUF value type ${id} at byte ${pos - 4}`);
    return name;
  };

  if (u32() !== GGUF_MAGIC) throw new Error('not a GGUF file (bad magic)');
  const version = u32();
  if (version !== 2 && version !== 3) throw new Error(`unsupported GGUF version ${version}`);
  const tensorCount = u64n();
  const kvCount = u64n();

  const kv = new Map<string, GgufReadValue>();
  const kvOrder: string[] = [];
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    if (kv.has(key)) throw new Error(`duplicate GGUF key ${key}`);
    const type = typeName(u32());
    if (type === 'array') {
      const itemType = typeName(u32());
      if (itemType === 'array') throw new Error(`GGUF key ${key}: nested arrays are not supported`);
      const n = u64n();
      const value: GgufScalar[] = [];
      for (let j = 0; j < n; j++) value.push(scalar(itemType));
      kv.set(key, { type, itemType, value });
    } else {
      kv.set(key, { type, value: scalar(type) });
    }
    kvOrder.push(key);
  }

  const alignValue = kv.get('general.alignment');
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if (alignValue !== undefined) {
    if (alignValue.type !== 'uint32') throw new Error('general.alignment must be a uint32');
    alignment = alignValue.value as number;
    if (alignment === 0 || alignment % 8 !== 0) throw new Error(`general.alignment must be a non-zero multiple of 8, got ${alignment}`);
  }

  const infos: Omit<GgufTensorInfo, 'data'>[] = [];
  const tensorNames = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = str();
    if (tensorNames.has(name)) throw new Error(`duplicate tensor ${name}`);
    tensorNames.add(name);
    const nDims = u32();
    if (nDims < 1 || nDims > 4) throw new Error(`tensor ${name}: n_dims ${nDims} out of range`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(u64n());
    const type = u32();
    const offset = u64n();
    if (offset % alignment !== 0) throw new Error(`tensor ${name}: offset ${offset} is not a multiple of ${alignment}`);
    infos.push({ name, dims, type, offset, size: tensorByteSize(type, dims) });
  }
  const headerEnd = pos;
  const dataOffset = alignTo(pos, alignment);

  const sorted = [...infos].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (prev.offset + prev.size > sorted[i]!.offset) throw new Error(`tensors ${prev.name} and ${sorted[i]!.name} overlap`);
  }
  const tensors = infos.map((t) => {
    const start = dataOffset + t.offset;
    if (start + t.size > bytes.byteLength) throw new Error(`tensor ${t.name}: data runs past the end of the file`);
    return { ...t, data: bytes.subarray(start, start + t.size) };
  });
  return { version, kv, kvOrder, tensors, alignment, dataOffset, headerEnd };
}
