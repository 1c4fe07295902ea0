import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GgmlType, decodeTensorData, readGguf } from '../../scripts/lib/gguf.js';
import type { GgufReadValue } from '../../scripts/lib/gguf.js';
import { TINY_MODEL_WORDS, TokenType, buildTinyModel } from '../../scripts/lib/tiny-model.js';
import { ensureTinyModel } from '../../scripts/gen-tiny-model.js';

const model = buildTinyModel();
const file = readGguf(model.bytes);
const kv = (key: string): GgufReadValue => {
  const v = file.kv.get(key);
  assert.ok(v, `missing KV ${key}`);
  return v;
};
const scalar = (key: string, type: string): unknown => {
  const v = kv(key);
  assert.equal(v.type, type, `${key} type`);
  return v.value;
};
const array = (key: string, itemType: string): unknown[] => {
  const v = kv(key);
  assert.ok(v.type === 'array' && v.itemType === itemType, `${key} must be an array of ${itemType}`);
  return v.value as unknown[];
};

describe('tiny model: llama.cpp metadata', () => {
  test('general and llama.* keys have the required types and values', () => {
    assert.equal(file.version, 3);
    assert.equal(scalar('general.architecture', 'string'), 'llama');
    assert.equal(scalar('general.name', 'string'), 'omega-tiny');
    assert.equal(scalar('general.alignment', 'uint32'), 32);
    assert.equal(scalar('general.file_type', 'uint32'), 1);
    assert.equal(scalar('llama.context_length', 'uint32'), 2048);
    assert.equal(scalar('llama.embedding_length', 'uint32'), 64);
    assert.equal(scalar('llama.block_count', 'uint32'), 2);
    assert.equal(scalar('llama.feed_forward_length', 'uint32'), 128);
    assert.equal(scalar('llama.attention.head_count', 'uint32'), 4);
    assert.equal(scalar('llama.attention.head_count_kv', 'uint32'), 4);
    // llama.cpp rejects a llama model whose n_rot differs from the head size.
    assert.equal(scalar('llama.rope.dimension_count', 'uint32'), 64 / 4);
    const eps = scalar('llama.attention.layer_norm_rms_epsilon', 'float32') as number;
    assert.ok(eps > 0 && eps < 1e-3);
  });

  test('tokenizer keys: SentencePiece model, parallel arrays, special ids, ChatML template', () => {
    assert.equal(scalar('tokenizer.ggml.model', 'string'), 'llama');
    const tokens = array('tokenizer.ggml.tokens', 'string') as string[];
    assert.equal(array('tokenizer.ggml.scores', 'float32').length, tokens.length);
    assert.equal(array('tokenizer.ggml.token_type', 'int32').length, tokens.length);
    assert.equal(scalar('llama.vocab_size', 'uint32'), tokens.length);
    assert.equal(tokens[scalar('tokenizer.ggml.unknown_token_id', 'uint32') as number], '<unk>');
    assert.equal(tokens[scalar('tokenizer.ggml.bos_token_id', 'uint32') as number], '<s>');
    assert.equal(tokens[scalar('tokenizer.ggml.eos_token_id', 'uint32') as number], '</s>');
    const template = scalar('tokenizer.chat_template', 'string') as string;
    assert.match(template, /'<\|im_start\|>' \+ message\['role'\]/);
    assert.match(template, /<\|im_end\|>/);
    assert.match(template, /add_generation_prompt/);
  });
});

describe('tiny model: vocabulary', () => {
  const tokens = array('tokenizer.ggml.tokens', 'string') as string[];
  const types = array('tokenizer.ggml.token_type', 'int32') as number[];
  const typeOf = (t: string): number | undefined => types[tokens.indexOf(t)];

  test('a few hundred unique tokens (llama.cpp asserts uniqueness)', () => {
    assert.ok(tokens.length >= 300 && tokens.length < 1000, `${tokens.length} tokens`);
    assert.equal(new Set(tokens).size, tokens.length);
  });

  test('256 byte-fallback tokens <0x00>..<0xFF> of type 6, including the newline llama.cpp looks up', () => {
    for (let b = 0; b < 256; b++) {
      const t = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      assert.equal(typeOf(t), TokenType.byte, t);
    }
    assert.equal(types.filter((t) => t === TokenType.byte).length, 256);
    assert.equal(typeOf('<0x0A>'), 6);
  });

  test('specials and ChatML markers are control tokens; <unk> is unknown', () => {
    assert.equal(typeOf('<unk>'), TokenType.unknown);
    for (const t of ['<s>', '</s>', '<|im_start|>', '<|im_end|>']) assert.equal(typeOf(t), TokenType.control, t);
  });

  test('printable ASCII, the SentencePiece space and every prefix of the words are normal tokens', () => {
    for (let c = 0x21; c <= 0x7e; c++) assert.equal(typeOf(String.fromCharCode(c)), TokenType.normal);
    assert.equal(typeOf('\u2581'), TokenType.normal);
    for (const word of TINY_MODEL_WORDS) {
      for (let n = 1; n <= word.length; n++) assert.equal(typeOf(`\u2581${word.slice(0, n)}`), TokenType.normal, word.slice(0, n));
    }
  });
});

describe('tiny model: tensors', () => {
  const nVocab = (array('tokenizer.ggml.tokens', 'string') as string[]).length;
  const byName = new Map(file.tensors.map((t) => [t.name, t]));

  test('every llama tensor with ggml-order dims and F16 matrices / F32 norms', () => {
    const expected: [string, number[], number][] = [
      ['token_embd.weight', [64, nVocab], GgmlType.F16],
      ['output_norm.weight', [64], GgmlType.F32],
      ['output.weight', [64, nVocab], GgmlType.F16],
    ];
    for (const b of [0, 1]) {
      expected.push(
        [`blk.${b}.attn_norm.weight`, [64], GgmlType.F32],
        [`blk.${b}.attn_q.weight`, [64, 64], GgmlType.F16],
        [`blk.${b}.attn_k.weight`, [64, 64], GgmlType.F16],
        [`blk.${b}.attn_v.weight`, [64, 64], GgmlType.F16],
        [`blk.${b}.attn_output.weight`, [64, 64], GgmlType.F16],
        [`blk.${b}.ffn_norm.weight`, [64], GgmlType.F32],
        [`blk.${b}.ffn_gate.weight`, [64, 128], GgmlType.F16],
        [`blk.${b}.ffn_up.weight`, [64, 128], GgmlType.F16],
        [`blk.${b}.ffn_down.weight`, [128, 64], GgmlType.F16],
      );
    }
    assert.deepEqual(
      [...byName.values()].map((t) => [t.name, t.dims, t.type]).sort(),
      expected.sort(),
    );
  });

  test('all weights are finite and the matrices are not constant', () => {
    for (const t of file.tensors) {
      const values = decodeTensorData(t.type, t.data);
      assert.ok(values.every(Number.isFinite), t.name);
      if (t.dims.length === 2) assert.ok(new Set(values).size > 100, `${t.name} looks constant`);
    }
  });

  test('output rows of control, unknown and byte tokens are zero; printable rows are not', () => {
    const out = byName.get('output.weight')!;
    const values = decodeTensorData(out.type, out.data);
    const types = array('tokenizer.ggml.token_type', 'int32') as number[];
    types.forEach((type, id) => {
      const row = values.slice(id * 64, (id + 1) * 64);
      if (type === TokenType.normal) assert.ok(row.some((v) => v !== 0), `row ${id} is zero`);
      else assert.ok(row.every((v) => v === 0), `row ${id} (type ${type}) is not zero`);
    });
  });

  test('the file is about 0.3 MB and aligned to 32 bytes', () => {
    assert.ok(model.bytes.length > 200_000 && model.bytes.length < 400_000, `${model.bytes.length} bytes`);
    assert.equal(file.dataOffset % 32, 0);
    for (const t of file.tensors) assert.equal(t.offset % 32, 0, t.name);
  });
});

describe('tiny model: determinism', () => {
  test('the same seed gives the same bytes', () => {
    assert.deepEqual(buildTinyModel().bytes, model.bytes);
    assert.deepEqual(buildTinyModel({ seed: 7 }).bytes, buildTinyModel({ seed: 7 }).bytes);
  });

  test('another seed changes the weights but not the metadata', () => {
    const other = readGguf(buildTinyModel({ seed: 7 }).bytes);
    assert.deepEqual(other.kvOrder, file.kvOrder);
    assert.deepEqual(other.tensors.map((t) => [t.name, t.dims, t.offset]), file.tensors.map((t) => [t.name, t.dims, t.offset]));
    assert.notDeepEqual(other.tensors[0]!.data, file.tensors[0]!.data);
  });

  test('ensureTinyModel writes the file once, leaves an identical one alone and replaces a damaged one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'omega-tiny-'));
    try {
      const path = join(dir, 'sub', 'tiny.gguf');
      const first = ensureTinyModel({ path });
      assert.equal(first.written, true);
      assert.deepEqual(new Uint8Array(readFileSync(path)), model.bytes);
      assert.equal(ensureTinyModel({ path }).written, false);
      writeFileSync(path, 'garbage');
      assert.equal(ensureTinyModel({ path }).written, true);
      assert.deepEqual(new Uint8Array(readFileSync(path)), model.bytes);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
