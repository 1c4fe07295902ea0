/**
 * Finds an Ollama binary for the integration tests, building one if need be.
 *
 * Resolution order (issue 4):
 *   1. $OLLAMA_BIN, if set (an error if it is not a working ollama);
 *   2. an `ollama` on PATH whose `--version` is >= 0.9;
 *   3. the project cache, .cache/ollama/bin/ollama;
 *   4. `go install github.com/ollama/ollama@v0.9.6` into that cache (cgo, the machine's `go env`).
 *
 * Usage: npm run get:ollama   (prints the binary's path, version, source and the time taken)
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { OLLAMA_CACHE_BIN, formatMs, isMain } from './lib/paths.js';

/** The Ollama release the project builds and tests against. */
export const OLLAMA_VERSION = '0.9.6';
/** The oldest Ollama accepted from PATH. */
export const OLLAMA_MIN_VERSION = '0.9.0';
/** The Go module installed when nothing else is found. */
export const OLLAMA_MODULE = 'github.com/ollama/ollama';

/** Where the binary came from. */
export type OllamaSource = 'env' | 'path' | 'cache' | 'built';

/** A usable Ollama binary. */
export interface OllamaBinary {
  path: string;
  version: string;
  source: OllamaSource;
  /** Time spent finding (or building) it. */
  ms: number;
}

/** Options of {@link getOllama}. */
export interface GetOllamaOptions {
  env?: NodeJS.ProcessEnv;
  /** The cached binary's path; defaults to .cache/ollama/bin/ollama. */
  cacheBin?: string;
  /** Receives progress lines; defaults to stderr. */
  log?: (line: string) => void;
  /** Skip PATH lookup (tests of the cache/build branches). */
  ignorePath?: boolean;
}

/** Parses `x.y.z` (a leading `v` and any `-suffix` ignored) into numbers. */
export function parseVersion(text: string): [number, number, number] | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** Compares two `x.y.z` versions; unparseable versions sort lowest. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a) ?? [-1, 0, 0];
  const pb = parseVersion(b) ?? [-1, 0, 0];
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}

/**
 * Extracts the client version from `ollama --version` output. Without a server it prints
 * `Warning: client version is X`; next to a server of the same version only `ollama version is X`.
 */
export function parseOllamaVersionOutput(output: string): string | null {
  const client = /client version is (\S+)/.exec(output);
  if (client) return client[1]!;
  const server = /ollama version is (\S+)/.exec(output);
  return server ? server[1]! : null;
}

/** Runs `<bin> --version` and returns the client version, or null if it is not a working ollama. */
export function ollamaVersion(bin: string, env: NodeJS.ProcessEnv = process.env): string | null {
  // Port 1 on loopback refuses at once, so the answer is the binary's own version,
  // not that of whatever server happens to run on the default port.
  const r = spawnSync(bin, ['--version'], {
    env: { ...env, OLLAMA_HOST: '127.0.0.1:1' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.error || r.status !== 0) return null;
  return parseOllamaVersionOutput(`${r.stdout}\n${r.stderr}`);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Every `ollama` executable on PATH, in PATH order. */
export function findOnPath(env: NodeJS.ProcessEnv = process.env, name = 'ollama'): string[] {
  const dirs = (env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  return dirs.map((d) => join(d, name)).filter(isExecutable);
}

/** The `go` command, or null when Go is not installed. */
export function findGo(env: NodeJS.ProcessEnv = process.env): string | null {
  const r = spawnSync('go', ['version'], { env, encoding: 'utf8', timeout: 30_000 });
  return r.error || r.status !== 0 ? null : 'go';
}

/** The message shown when there is no Ollama and no Go to build one. */
export const NO_OLLAMA_MESSAGE =
  `No Ollama >= ${OLLAMA_MIN_VERSION} was found and Go is not installed to build one: ` +
  'install Ollama (https://ollama.com/download) and put `ollama` on PATH or set OLLAMA_BIN, ' +
  `or install Go >= 1.24 with gcc/g++ (https://go.dev/dl) so that \`npm run get:ollama\` can build v${OLLAMA_VERSION}.`;

/**
 * Builds Ollama with `go install` into the directory of `targetBin`. The build goes to a
 * temporary GOBIN and is renamed into place, so an interrupted build never leaves a
 * half-written binary where the next run would find it.
 */
export async function buildOllama(targetBin: string, options: { env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {}): Promise<void> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const targetDir = dirname(targetBin);
  mkdirSync(targetDir, { recursive: true });
  const gobin = mkdtempSync(join(targetDir, '.build-'));
  const args = [
    'install',
    '-ldflags',
    `-X github.com/ollama/ollama/version.Version=${OLLAMA_VERSION}`,
    `${OLLAMA_MODULE}@v${OLLAMA_VERSION}`,
  ];
  log(
    `get-ollama: building Ollama v${OLLAMA_VERSION} with \`go ${args.map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' ')}\` ` +
      '(the first build downloads modules and compiles the cgo backend: a few minutes; the Go build cache makes later builds fast)',
  );
  const started = performance.now();
  const output: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('go', args, {
        env: { ...env, CGO_ENABLED: '1', GOBIN: gobin },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const keep = (chunk: Buffer): void => {
        output.push(chunk.toString('utf8'));
        if (output.length > 400) output.splice(0, output.length - 400);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const ticker = setInterval(() => log(`get-ollama: still building... ${formatMs(performance.now() - started)}`), 30_000);
      ticker.unref();
      const stop = (signal: NodeJS.Signals): void => {
        child.kill(signal);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      child.on('error', (err) => {
        clearInterval(ticker);
        reject(err);
      });
      child.on('close', (code, signal) => {
        clearInterval(ticker);
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        if (code === 0) resolve();
        else reject(new Error(`go install exited with ${signal ?? `code ${code}`}`));
      });
    });
    const built = join(gobin, 'ollama');
    if (!isExecutable(built)) throw new Error(`go install finished but ${built} is missing`);
    renameSync(built, targetBin);
    log(`get-ollama: built ${targetBin} in ${formatMs(performance.now() - started)}`);
  } catch (error) {
    const tail = output.join('').trim().split('\n').slice(-30).join('\n');
    throw new Error(
      `Building Ollama v${OLLAMA_VERSION} failed (${(error as Error).message}); ` +
        'check that Go >= 1.24, gcc and g++ are installed and the Go module proxy is reachable, ' +
        `or install Ollama yourself and set OLLAMA_BIN.${tail ? `\n--- go output (tail) ---\n${tail}` : ''}`,
      { cause: error },
    );
  } finally {
    rmSync(gobin, { recursive: true, force: true });
  }
}

/** Finds or builds Ollama, following the resolution order at the top of this file. */
export async function getOllama(options: GetOllamaOptions = {}): Promise<OllamaBinary> {
  const env = options.env ?? process.env;
  const cacheBin = options.cacheBin ?? OLLAMA_CACHE_BIN;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = performance.now();
  const done = (path: string, version: string, source: OllamaSource): OllamaBinary => ({
    path,
    version,
    source,
    ms: performance.now() - started,
  });

  const fromEnv = env.OLLAMA_BIN;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!isExecutable(fromEnv)) throw new Error(`OLLAMA_BIN=${fromEnv} is not an executable file; point it at an ollama binary or unset it.`);
    const version = ollamaVersion(fromEnv, env);
    if (version === null) throw new Error(`OLLAMA_BIN=${fromEnv} did not answer \`--version\` like ollama does; point it at an ollama binary or unset it.`);
    return done(fromEnv, version, 'env');
  }

  if (!options.ignorePath) {
    for (const candidate of findOnPath(env)) {
      const version = ollamaVersion(candidate, env);
      if (version !== null && compareVersions(version, OLLAMA_MIN_VERSION) >= 0) return done(candidate, version, 'path');
      log(`get-ollama: ignoring ${candidate} (version ${version ?? 'unknown'} < ${OLLAMA_MIN_VERSION})`);
    }
  }

  if (existsSync(cacheBin)) {
    const version = ollamaVersion(cacheBin, env);
    if (version !== null && compareVersions(version, OLLAMA_MIN_VERSION) >= 0) return done(cacheBin, version, 'cache');
    log(`get-ollama: cached ${cacheBin} is unusable (version ${version ?? 'unknown'}); rebuilding`);
  }

  if (findGo(env) === null) throw new Error(NO_OLLAMA_MESSAGE);
  await buildOllama(cacheBin, { env, log });
  const version = ollamaVersion(cacheBin, env);
  if (version === null) throw new Error(`The freshly built ${cacheBin} does not run; delete it and try again.`);
  return done(cacheBin, version, 'built');
}

async function main(): Promise<void> {
  const bin = await getOllama();
  console.log(`ollama: ${bin.path} (v${bin.version}, ${bin.source}) in ${formatMs(bin.ms)}`);
}

if (isMain(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`get-ollama: ${(error as Error).message}`);
    process.exitCode = 1;
  });
}
