/**
 * A tiny random-weight LLaMA-architecture model, built in memory as GGUF v3.
 *
 * It exists so the integration tests can run a real `ollama serve` without internet:
 * the weights are noise, but the file is a well-formed model that llama.cpp loads and
 * samples from. Everything is derived from a seeded PRNG, so the same seed always gives
 * the same bytes.
 */
import { GgmlType, encodeF16, encodeF32, writeGguf } from './gguf.js';
import type { GgufKV, GgufTensorInput } from './gguf.js';

/** The hyperparameters of the tiny model (issue 4). */
export const TINY_MODEL_CONFIG = {
  name: 'omega-tiny',
  contextLength: 2048,
  embeddingLength: 64,
  blockCount: 2,
  feedForwardLength: 128,
  headCount: 4,
  headCountKv: 4,
  /** Head dimension: embeddingLength / headCount. */
  ropeDimensionCount: 16,
  ropeFreqBase: 10000,
  rmsEpsilon: 1e-5,
  alignment: 32,
  /** llama.cpp's LLAMA_FTYPE_MOSTLY_F16. */
  fileType: 1,
} as const;

/** The default PRNG seed; any other seed gives a different but equally valid model. */
export const TINY_MODEL_SEED = 0x0e6a;

/** SentencePiece token types as llama.cpp numbers them (llama_token_type). */
export const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/** ChatML as Hugging Face writes it; Ollama recognises this text and picks its `chatml` template. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/** Words whose every `▁`-prefixed prefix is in the vocabulary, so SentencePiece merges reach them. */
export const TINY_MODEL_WORDS: readonly string[] = [
  'hello', 'world', 'omega', 'local', 'model', 'tiny', 'test', 'llama', 'the', 'and', 'is', 'to', 'of', 'a',
];

/** SentencePiece's visible space. */
const SPACE = '\u2581';

/** A SentencePiece vocabulary in id order. */
export interface TinyVocab {
  tokens: string[];
  scores: number[];
  types: number[];
  unkId: number;
  bosId: number;
  eosId: number;
  imStartId: number;
  imEndId: number;
}

/** Builds the vocabulary: specials, 256 byte tokens, ChatML markers, printable ASCII, word prefixes. */
export function buildTinyVocab(): TinyVocab {
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const seen = new Set<string>();
  let normalRank = 0;
  const add = (text: string, type: number): number => {
    if (seen.has(text)) return tokens.indexOf(text);
    seen.add(text);
    tokens.push(text);
    // SentencePiece scores are log-probabilities: earlier (more common) pieces score higher.
    scores.push(type === TokenType.normal ? -normalRank++ : 0);
    types.push(type);
    return tokens.length - 1;
  };
  const unkId = add('<unk>', TokenType.unknown);
  const bosId = add('<s>', TokenType.control);
  const eosId = add('</s>', TokenType.control);
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, TokenType.byte);
  const imStartId = add('<|im_start|>', TokenType.control);
  const imEndId = add('<|im_end|>', TokenType.control);
  add(SPACE, TokenType.normal);
  for (let c = 0x21; c <= 0x7e; c++) add(String.fromCharCode(c), TokenType.normal);
  for (const word of TINY_MODEL_WORDS) {
    for (let n = 1; n <= word.length; n++) add(SPACE + word.slice(0, n), TokenType.normal);
  }
  return { tokens, scores, types, unkId, bosId, eosId, imStartId, imEndId };
}

/** mulberry32: a small, well-mixed 32-bit PRNG; plenty for noise weights. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link buildTinyModel}. */
export interface TinyModelOptions {
  seed?: number;
}

/** The generated file and what went into it. */
export interface TinyModel {
  bytes: Uint8Array;
  vocab: TinyVocab;
  kv: GgufKV[];
  tensors: GgufTensorInput[];
}

/** Builds the tiny model's GGUF bytes. Deterministic in `seed`. */
export function buildTinyModel(options: TinyModelOptions = {}): TinyModel {
  const cfg = TINY_MODEL_CONFIG;
  const rand = mulberry32(options.seed ?? TINY_MODEL_SEED);
  const vocab = buildTinyVocab();
  const nVocab = vocab.tokens.length;
  const nEmbd = cfg.embeddingLength;
  const nFf = cfg.feedForwardLength;

  /** Uniform noise in [-scale, scale]. */
  const noise = (count: number, scale: number): Float32Array => {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = (rand() * 2 - 1) * scale;
    return out;
  };
  const f16 = (name: string, dims: number[], values: Float32Array): GgufTensorInput => ({
    name, dims, type: GgmlType.F16, data: encodeF16(values),
  });
  const ones = (name: string): GgufTensorInput => ({
    name, dims: [nEmbd], type: GgmlType.F32, data: encodeF32(new Float32Array(nEmbd).fill(1)),
  });

  // Scales keep activations near unit size: 1/sqrt(fan_in) for the projections. The
  // output projection is larger so logits spread widely and sampling prefers a few tokens.
  const proj = Math.sqrt(3 / nEmbd);
  const tensors: GgufTensorInput[] = [];
  tensors.push(f16('token_embd.weight', [nEmbd, nVocab], noise(nEmbd * nVocab, 1)));
  tensors.push(ones('output_norm.weight'));
  const output = noise(nEmbd * nVocab, 0.9);
  // Rows (ggml dim 1) are tokens. A zero row gives logit 0 while printable tokens reach
  // several units above it, so greedy and top-k sampling never pick a control or byte token.
  vocab.types.forEach((type, id) => {
    if (type !== TokenType.normal) output.fill(0, id * nEmbd, (id + 1) * nEmbd);
  });
  tensors.push(f16('output.weight', [nEmbd, nVocab], output));
  for (let b = 0; b < cfg.blockCount; b++) {
    const p = `blk.${b}.`;
    tensors.push(ones(`${p}attn_norm.weight`));
    tensors.push(f16(`${p}attn_q.weight`, [nEmbd, nEmbd], noise(nEmbd * nEmbd, proj)));
    tensors.push(f16(`${p}attn_k.weight`, [nEmbd, nEmbd], noise(nEmbd * nEmbd, proj)));
    tensors.push(f16(`${p}attn_v.weight`, [nEmbd, nEmbd], noise(nEmbd * nEmbd, proj)));
    tensors.push(f16(`${p}attn_output.weight`, [nEmbd, nEmbd], noise(nEmbd * nEmbd, proj)));
    tensors.push(ones(`${p}ffn_norm.weight`));
    tensors.push(f16(`${p}ffn_gate.weight`, [nEmbd, nFf], noise(nEmbd * nFf, proj)));
    tensors.push(f16(`${p}ffn_up.weight`, [nEmbd, nFf], noise(nEmbd * nFf, proj)));
    tensors.push(f16(`${p}ffn_down.weight`, [nFf, nEmbd], noise(nFf * nEmbd, Math.sqrt(3 / nFf))));
  }

  const kv: GgufKV[] = [
    { key: 'general.architecture', type: 'string', value: 'llama' },
    { key: 'general.name', type: 'string', value: cfg.name },
    { key: 'general.alignment', type: 'uint32', value: cfg.alignment },
    { key: 'general.file_type', type: 'uint32', value: cfg.fileType },
    { key: 'llama.context_length', type: 'uint32', value: cfg.contextLength },
    { key: 'llama.embedding_length', type: 'uint32', value: nEmbd },
    { key: 'llama.block_count', type: 'uint32', value: cfg.blockCount },
    { key: 'llama.feed_forward_length', type: 'uint32', value: nFf },
    { key: 'llama.attention.head_count', type: 'uint32', value: cfg.headCount },
    { key: 'llama.attention.head_count_kv', type: 'uint32', value: cfg.headCountKv },
    { key: 'llama.rope.dimension_count', type: 'uint32', value: cfg.ropeDimensionCount },
    { key: 'llama.rope.freq_base', type: 'float32', value: cfg.ropeFreqBase },
    { key: 'llama.attention.layer_norm_rms_epsilon', type: 'float32', value: cfg.rmsEpsilon },
    { key: 'llama.vocab_size', type: 'uint32', value: nVocab },
    { key: 'tokenizer.ggml.model', type: 'string', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: vocab.tokens },
    { key: 'tokenizer.ggml.scores', type: 'array', itemType: 'float32', value: vocab.scores },
    { key: 'tokenizer.ggml.token_type', type: 'array', itemType: 'int32', value: vocab.types },
    { key: 'tokenizer.ggml.bos_token_id', type: 'uint32', value: vocab.bosId },
    { key: 'tokenizer.ggml.eos_token_id', type: 'uint32', value: vocab.eosId },
    { key: 'tokenizer.ggml.unknown_token_id', type: 'uint32', value: vocab.unkId },
    { key: 'tokenizer.ggml.add_bos_token', type: 'bool', value: true },
    { key: 'tokenizer.ggml.add_eos_token', type: 'bool', value: false },
    { key: 'tokenizer.chat_template', type: 'string', value: CHATML_TEMPLATE },
  ];

  return { bytes: writeGguf({ kv, tensors }), vocab, kv, tensors };
}
