/**
 * Writes the tiny test model to .cache/models/tiny.gguf (or `--out <file>`).
 *
 * Usage: npm run gen:model [-- --out <file>] [--seed <n>]
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildTinyModel, TINY_MODEL_SEED } from './lib/tiny-model.js';
import { TINY_MODEL_PATH, formatMs, isMain } from './lib/paths.js';

/** Options of {@link ensureTinyModel}. */
export interface EnsureTinyModelOptions {
  /** Target file; defaults to .cache/models/tiny.gguf. */
  path?: string;
  seed?: number;
}

/** What {@link ensureTinyModel} did. */
export interface EnsureTinyModelResult {
  path: string;
  sizeBytes: number;
  /** False when an identical file was already there. */
  written: boolean;
  ms: number;
}

/**
 * Generates the model and writes it unless an identical file exists. The write goes
 * through a temporary file and a rename, so a reader never sees half a model.
 */
export function ensureTinyModel(options: EnsureTinyModelOptions = {}): EnsureTinyModelResult {
  const started = performance.now();
  const path = resolve(options.path ?? TINY_MODEL_PATH);
  const { bytes } = buildTinyModel({ seed: options.seed ?? TINY_MODEL_SEED });
  let existing: Buffer | undefined;
  try {
    existing = readFileSync(path);
  } catch {
    existing = undefined;
  }
  const same = existing !== undefined && Buffer.compare(existing, bytes) === 0;
  if (!same) {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  }
  return { path, sizeBytes: bytes.byteLength, written: !same, ms: performance.now() - started };
}

function main(argv: string[]): void {
  let path: string | undefined;
  let seed: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--out') path = argv[++i];
    else if (arg === '--seed') seed = Number(argv[++i]);
    else throw new Error(`unknown argument ${arg}; usage: gen-tiny-model [--out <file>] [--seed <n>]`);
  }
  if (seed !== undefined && !Number.isInteger(seed)) throw new Error('--seed takes an integer');
  const r = ensureTinyModel({ path, seed });
  console.log(
    `tiny model: ${r.path} (${(r.sizeBytes / 1024).toFixed(0)} KiB, ${r.written ? 'written' : 'unchanged'}) in ${formatMs(r.ms)}`,
  );
}

if (isMain(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(`gen-tiny-model: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
