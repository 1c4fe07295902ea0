/** Paths of the repository that scripts and test support share. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { realpathSync } from 'node:fs';

/** The repository root (this file lives in scripts/lib/). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
/** Git-ignored cache for built tools and generated models. */
export const CACHE_DIR = join(REPO_ROOT, '.cache');
/** Where the tiny test model is written. */
export const TINY_MODEL_PATH = join(CACHE_DIR, 'models', 'tiny.gguf');
/** Where a built Ollama was kept before several versions were cached (still picked up, and moved). */
export const OLLAMA_CACHE_BIN = join(CACHE_DIR, 'ollama', 'bin', 'ollama');
/** Where the built Ollama of one version is kept: .cache/ollama/<version>/bin/ollama. */
export function ollamaCacheBin(version: string, cacheDir = CACHE_DIR): string {
  return join(cacheDir, 'ollama', version, 'bin', 'ollama');
}
/** The real small model (Gemma 3 270M, Q4_K_M), assembled from its PyPI chunk packages. */
export const GEMMA_MODEL_PATH = join(CACHE_DIR, 'models', 'gemma3-270m-q4_k_m.gguf');

/** Formats a duration for progress lines: `850 ms`, `12.3 s`, `3m40s`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** True when `moduleUrl` is the script node was asked to run. */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(fileURLToPath(moduleUrl)) === realpathSync(entry);
  } catch {
    return false;
  }
}
