/**
 * Finds the Ollama binaries for the integration tests and the demo, building them if need be.
 *
 * The project tests against two releases: 0.9.6 (July 2025, the API Omega was written against)
 * and 0.17.4 (the newest the Go module proxy serves), because their wire behaviour differs.
 *
 * Resolution (issues 4 and 11):
 *   1. $OLLAMA_BIN, if set: that one binary, whatever its version (an error if it is not ollama);
 *   2. without $OMEGA_OLLAMA_VERSIONS, an `ollama` on PATH whose `--version` is >= 0.9: that one;
 *   3. otherwise each version of $OMEGA_OLLAMA_VERSIONS (default: all of OLLAMA_VERSIONS):
 *      an `ollama` on PATH of exactly that version, else .cache/ollama/<version>/bin/ollama,
 *      else `go install github.com/ollama/ollama@v<version>` into that cache.
 *
 * Building 0.17.4 needs three C/C++ headers that Go module zips leave out (llama.cpp's vendor/):
 * nlohmann/json.hpp and json_fwd.hpp (Debian nlohmann-json3-dev), stb/stb_image.h (Debian
 * libstb-dev), and miniaudio/miniaudio.h, taken from the PyPI source distribution of `miniaudio`
 * (fetched with pip into .cache/, sha256-checked) into ~/.cache/omega/ollama-include/ and passed
 * in CGO_CPPFLAGS.
 *
 * Usage: npm run get:ollama   (prints each binary's path, version, source and the time taken)
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CACHE_DIR, OLLAMA_CACHE_BIN, formatMs, isMain, ollamaCacheBin } from './lib/paths.js';

/** The Ollama releases the project builds and tests against, oldest first. */
export const OLLAMA_VERSIONS = ['0.9.6', '0.17.4'] as const;
/** The newest of {@link OLLAMA_VERSIONS}: what the demo and single-server callers use. */
export const OLLAMA_NEWEST: string = OLLAMA_VERSIONS[OLLAMA_VERSIONS.length - 1]!;
/** The oldest Ollama accepted from PATH. */
export const OLLAMA_MIN_VERSION = '0.9.0';
/** The Go module installed when nothing else is found. */
export const OLLAMA_MODULE = 'github.com/ollama/ollama';
/** Env var choosing the versions, comma-separated (e.g. `0.9.6,0.17.4`). */
export const VERSIONS_ENV = 'OMEGA_OLLAMA_VERSIONS';

/** The PyPI source distribution that carries miniaudio.h, pinned by version and digest. */
export const MINIAUDIO_SDIST = {
  name: 'miniaudio',
  version: '1.71',
  file: 'miniaudio-1.71.tar.gz',
  sha256: 'ff51e2887bb673e2e757752b586b3dc924d59aa5fbcae9bbc45f4a111bd3262b',
  member: 'miniaudio-1.71/miniaudio/miniaudio.h',
} as const;

/** The Debian headers the newer builds need, with the package that ships each. */
export const DEBIAN_HEADERS = [
  { header: 'nlohmann/json.hpp', pkg: 'nlohmann-json3-dev' },
  { header: 'nlohmann/json_fwd.hpp', pkg: 'nlohmann-json3-dev' },
  { header: 'stb/stb_image.h', pkg: 'libstb-dev' },
] as const;

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

/** Options of {@link getOllama} and {@link getOllamas}. */
export interface GetOllamaOptions {
  env?: NodeJS.ProcessEnv;
  /** The cache root (holding ollama/<version>/bin/ollama); defaults to .cache. */
  cacheDir?: string;
  /** The cached binary's path for a single version; overrides cacheDir's layout (tests). */
  cacheBin?: string;
  /** The version wanted by {@link getOllama}; defaults to the newest requested one. */
  version?: string;
  /** The versions {@link getOllamas} resolves; defaults to {@link requestedVersions}. */
  versions?: string[];
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
 * The versions to use: $OMEGA_OLLAMA_VERSIONS (comma-separated, deduplicated, oldest first) or
 * all of {@link OLLAMA_VERSIONS}. A malformed entry is an error naming the variable.
 */
export function requestedVersions(env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = env[VERSIONS_ENV];
  if (raw === undefined || raw.trim() === '') return [...OLLAMA_VERSIONS];
  const out: string[] = [];
  for (const part of raw.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const parsed = parseVersion(part);
    if (parsed === null || !/^v?\d+\.\d+\.\d+$/.test(part)) {
      throw new Error(`${VERSIONS_ENV}=${raw} has "${part}", which is not a version like 0.17.4; use a comma-separated list such as ${OLLAMA_VERSIONS.join(',')}.`);
    }
    const version = parsed.join('.');
    if (compareVersions(version, OLLAMA_MIN_VERSION) < 0) {
      throw new Error(`${VERSIONS_ENV}=${raw} asks for ${version}, older than the oldest supported Ollama ${OLLAMA_MIN_VERSION}; use ${OLLAMA_VERSIONS.join(',')}.`);
    }
    if (!out.includes(version)) out.push(version);
  }
  if (out.length === 0) throw new Error(`${VERSIONS_ENV} is set but lists no version; unset it or use e.g. ${OLLAMA_VERSIONS.join(',')}.`);
  return out.sort(compareVersions);
}

/**
 * Whether building `version` needs the extra headers: every release after 0.9.6 compiles
 * llama.cpp code that includes them (checked for 0.17.4; 0.9.6 builds without).
 */
export function needsExtraHeaders(version: string): boolean {
  return compareVersions(version, '0.9.6') > 0;
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
  `or install Go >= 1.24 with gcc/g++ (https://go.dev/dl) so that \`npm run get:ollama\` can build v${OLLAMA_VERSIONS.join(' and v')}.`;

/**
 * Where miniaudio.h is put: a per-user directory outside the checkout
 * (`$XDG_CACHE_HOME/omega/ollama-include`, else `~/.cache/omega/ollama-include`). Go keys its
 * build cache on the CGO_CPPFLAGS string, so a path that is the same for every clone lets a
 * fresh clone (CI) reuse the compiled cgo backend instead of compiling it again for minutes.
 */
export function headerIncludeDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(base, 'omega', 'ollama-include');
}

/** The include directories named by -I in a CGO_CPPFLAGS value, then the system ones. */
function includeDirs(env: NodeJS.ProcessEnv): string[] {
  const fromFlags = [...(env.CGO_CPPFLAGS ?? '').matchAll(/-I\s*(\S+)/g)].map((m) => m[1]!);
  return [...fromFlags, '/usr/local/include', '/usr/include'];
}

/** The Debian headers that are in none of the include directories, with their packages. */
export function missingDebianHeaders(env: NodeJS.ProcessEnv = process.env, dirs = includeDirs(env)): { header: string; pkg: string }[] {
  return DEBIAN_HEADERS.filter((h) => !dirs.some((d) => existsSync(join(d, h.header))));
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Runs a command to completion, keeping its output; rejects with the output's tail on failure. */
export async function run(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; tick?: () => void } = {}): Promise<string> {
  const output: string[] = [];
  return new Promise<string>((resolve, reject) => {
    const child = spawn(cmd, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      output.push(chunk.toString('utf8'));
      if (output.length > 400) output.splice(0, output.length - 400);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const ticker = options.tick ? setInterval(options.tick, 30_000) : undefined;
    ticker?.unref();
    const stop = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const finish = (): void => {
      if (ticker) clearInterval(ticker);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    };
    child.on('error', (err) => {
      finish();
      reject(err);
    });
    child.on('close', (code, signal) => {
      finish();
      const text = output.join('');
      if (code === 0) resolve(text);
      else {
        const tail = text.trim().split('\n').slice(-30).join('\n');
        reject(new Error(`\`${cmd} ${args.join(' ')}\` exited with ${signal ?? `code ${code}`}${tail ? `\n--- output (tail) ---\n${tail}` : ''}`));
      }
    });
  });
}

/** The Python that runs pip, or null when there is no pip. */
export function findPip(env: NodeJS.ProcessEnv = process.env): string | null {
  for (const python of ['python3', 'python']) {
    const r = spawnSync(python, ['-m', 'pip', '--version'], { env, encoding: 'utf8', timeout: 60_000 });
    if (!r.error && r.status === 0) return python;
  }
  return null;
}

/**
 * Makes sure the headers that Go module zips leave out can be found, and returns the include
 * directory to pass with -I: the Debian ones must be installed (the error names the packages),
 * miniaudio.h is taken once from the sdist that pip fetches into `<cacheDir>/ollama/pip/`.
 */
export async function prepareHeaders(
  options: { cacheDir?: string; includeDir?: string; env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {},
): Promise<string> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const missing = missingDebianHeaders(env);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    throw new Error(
      `Building Ollama needs the C++ headers ${missing.map((m) => m.header).join(', ')}, which Go module zips leave out: ` +
        `install them with \`apt-get install ${pkgs.join(' ')}\` (bash .ci/run does this) and run again.`,
    );
  }
  const includeDir = options.includeDir ?? headerIncludeDir(env);
  const header = join(includeDir, 'miniaudio', 'miniaudio.h');
  if (existsSync(header)) return includeDir;

  const python = findPip(env);
  if (python === null) {
    throw new Error(
      'Building Ollama needs miniaudio/miniaudio.h from the PyPI package `miniaudio`, and pip is not installed: ' +
        'install it with `apt-get install python3-pip` (bash .ci/run does this) and run again.',
    );
  }
  const work = join(options.cacheDir ?? CACHE_DIR, 'ollama', 'pip');
  mkdirSync(work, { recursive: true });
  const sdist = join(work, MINIAUDIO_SDIST.file);
  if (!existsSync(sdist) || sha256File(sdist) !== MINIAUDIO_SDIST.sha256) {
    rmSync(sdist, { force: true });
    log(`get-ollama: fetching miniaudio.h from the PyPI source distribution ${MINIAUDIO_SDIST.name}==${MINIAUDIO_SDIST.version} with pip (about 30 s: pip prepares its metadata)`);
    const t0 = performance.now();
    await run(python, ['-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:', '--disable-pip-version-check', `${MINIAUDIO_SDIST.name}==${MINIAUDIO_SDIST.version}`, '-d', work], { env });
    if (!existsSync(sdist)) throw new Error(`pip download finished but ${sdist} is missing; found: ${readdirSync(work).join(', ') || 'nothing'}.`);
    log(`get-ollama: fetched ${MINIAUDIO_SDIST.file} in ${formatMs(performance.now() - t0)}`);
  }
  const digest = sha256File(sdist);
  if (digest !== MINIAUDIO_SDIST.sha256) {
    rmSync(sdist, { force: true });
    throw new Error(`${MINIAUDIO_SDIST.file} from PyPI has sha256 ${digest}, not the expected ${MINIAUDIO_SDIST.sha256}; it was deleted, run again.`);
  }
  const tmp = mkdtempSync(join(work, '.extract-'));
  try {
    await run('tar', ['-xzf', sdist, '-C', tmp, MINIAUDIO_SDIST.member], { env });
    mkdirSync(dirname(header), { recursive: true });
    renameSync(join(tmp, MINIAUDIO_SDIST.member), header);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`get-ollama: ${header} is ready`);
  return includeDir;
}

/** CPU features that `-march=x86-64-v3` assumes (AVX2, FMA, F16C and the rest of that level). */
const X86_64_V3 = ['avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave'];

/**
 * The C/C++ flags for Ollama's CPU backend. A plain `go install` compiles ggml for baseline
 * x86-64 (SSE2), since its cgo directives set no -march: Gemma 3 270M then generated about 9
 * tokens/s here, against about 29 with `-march=x86-64-v3` (AVX2/FMA), measured side by side.
 * Not -march=native: on a CPU with AMX it makes ggml-cpu call ggml_backend_amx_buffer_type,
 * which the cgo build never compiles, and the link fails. `undefined` keeps Go's defaults (a CPU
 * without those features, another architecture, or CGO_CFLAGS set by the caller).
 */
export function ollamaCpuFlags(env: NodeJS.ProcessEnv = process.env, cpuinfo?: string): string | undefined {
  if (env.CGO_CFLAGS !== undefined || env.CGO_CXXFLAGS !== undefined) return undefined;
  if (process.arch !== 'x64') return undefined;
  let info = cpuinfo;
  if (info === undefined) {
    try {
      info = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return undefined;
    }
  }
  const flagsLine = /^flags\s*:(.*)$/m.exec(info)?.[1];
  if (flagsLine === undefined) return undefined;
  const flags = new Set(flagsLine.trim().split(/\s+/));
  return X86_64_V3.every((f) => flags.has(f)) ? '-O3 -march=x86-64-v3' : undefined;
}

/** The file beside a cached binary that records the C flags it was built with. */
function flagsStamp(bin: string): string {
  return `${bin}.cflags`;
}

/**
 * Builds Ollama `version` with `go install` into the directory of `targetBin`. The build goes
 * to a temporary GOBIN and is renamed into place, so an interrupted build never leaves a
 * half-written binary where the next run would find it.
 */
export async function buildOllama(
  targetBin: string,
  options: { version?: string; cacheDir?: string; env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {},
): Promise<void> {
  const version = options.version ?? OLLAMA_NEWEST;
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const buildEnv: NodeJS.ProcessEnv = { ...env, CGO_ENABLED: '1' };
  const cpuFlags = ollamaCpuFlags(env);
  if (cpuFlags !== undefined) {
    buildEnv.CGO_CFLAGS = cpuFlags;
    buildEnv.CGO_CXXFLAGS = cpuFlags;
  }
  if (needsExtraHeaders(version)) {
    const includeDir = await prepareHeaders({ cacheDir: options.cacheDir, env, log });
    buildEnv.CGO_CPPFLAGS = `${env.CGO_CPPFLAGS ? `${env.CGO_CPPFLAGS} ` : ''}-I${includeDir}`;
  }
  const targetDir = dirname(targetBin);
  mkdirSync(targetDir, { recursive: true });
  const gobin = mkdtempSync(join(targetDir, '.build-'));
  buildEnv.GOBIN = gobin;
  const args = ['install', '-ldflags', `-X github.com/ollama/ollama/version.Version=${version}`, `${OLLAMA_MODULE}@v${version}`];
  log(
    `get-ollama: building Ollama v${version} with \`go ${args.map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' ')}\`` +
      `${buildEnv.CGO_CPPFLAGS ? ` and CGO_CPPFLAGS="${buildEnv.CGO_CPPFLAGS}"` : ''}` +
      `${cpuFlags ? ` and CGO_CFLAGS/CGO_CXXFLAGS="${cpuFlags}"` : ''} ` +
      '(the first build downloads modules and compiles the cgo backend: several minutes on 2 cores; the Go build cache makes later builds fast)',
  );
  const started = performance.now();
  try {
    await run('go', args, { env: buildEnv, tick: () => log(`get-ollama: still building v${version}... ${formatMs(performance.now() - started)}`) });
    const built = join(gobin, 'ollama');
    if (!isExecutable(built)) throw new Error(`go install finished but ${built} is missing`);
    renameSync(built, targetBin);
    writeFileSync(flagsStamp(targetBin), `${cpuFlags ?? 'default'}\n`);
    log(`get-ollama: built ${targetBin} in ${formatMs(performance.now() - started)}`);
  } catch (error) {
    throw new Error(
      `Building Ollama v${version} failed (${(error as Error).message}); ` +
        'check that Go >= 1.24, gcc and g++ are installed and the Go module proxy is reachable, ' +
        'or install Ollama yourself and set OLLAMA_BIN.',
      { cause: error },
    );
  } finally {
    rmSync(gobin, { recursive: true, force: true });
  }
}

/** OLLAMA_BIN checked and resolved, or undefined when it is not set. */
function fromEnvBin(env: NodeJS.ProcessEnv): { path: string; version: string } | undefined {
  const fromEnv = env.OLLAMA_BIN;
  if (fromEnv === undefined || fromEnv === '') return undefined;
  if (!isExecutable(fromEnv)) throw new Error(`OLLAMA_BIN=${fromEnv} is not an executable file; point it at an ollama binary or unset it.`);
  const version = ollamaVersion(fromEnv, env);
  if (version === null) throw new Error(`OLLAMA_BIN=${fromEnv} did not answer \`--version\` like ollama does; point it at an ollama binary or unset it.`);
  return { path: fromEnv, version };
}

/** The cached (or, failing that, freshly built) binary of one version. */
async function cachedOrBuilt(version: string, options: GetOllamaOptions, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<{ path: string; source: 'cache' | 'built' }> {
  const cacheBin = options.cacheBin ?? ollamaCacheBin(version, options.cacheDir);
  if (existsSync(cacheBin)) {
    const found = ollamaVersion(cacheBin, env);
    const wantFlags = ollamaCpuFlags(env) ?? 'default';
    // A binary without a stamp predates it and is kept; one built with other flags is rebuilt.
    const builtWith = existsSync(flagsStamp(cacheBin)) ? readFileSync(flagsStamp(cacheBin), 'utf8').trim() : wantFlags;
    if (found !== null && compareVersions(found, version) === 0 && builtWith === wantFlags) return { path: cacheBin, source: 'cache' };
    log(
      found !== null && compareVersions(found, version) === 0
        ? `get-ollama: cached ${cacheBin} was built with C flags "${builtWith}", not "${wantFlags}"; rebuilding`
        : `get-ollama: cached ${cacheBin} is unusable (version ${found ?? 'unknown'}, want ${version}); rebuilding`,
    );
  }
  // The single-version layout of earlier checkouts: move a matching binary instead of rebuilding.
  const legacy = options.cacheDir === undefined && options.cacheBin === undefined ? OLLAMA_CACHE_BIN : join(options.cacheDir ?? CACHE_DIR, 'ollama', 'bin', 'ollama');
  if (options.cacheBin === undefined && existsSync(legacy) && compareVersions(ollamaVersion(legacy, env) ?? '0.0.0', version) === 0) {
    mkdirSync(dirname(cacheBin), { recursive: true });
    renameSync(legacy, cacheBin);
    log(`get-ollama: moved ${legacy} to ${cacheBin}`);
    return { path: cacheBin, source: 'cache' };
  }
  if (findGo(env) === null) throw new Error(NO_OLLAMA_MESSAGE);
  await buildOllama(cacheBin, { version, cacheDir: options.cacheDir, env, log });
  const built = ollamaVersion(cacheBin, env);
  if (built === null) throw new Error(`The freshly built ${cacheBin} does not run; delete it and try again.`);
  return { path: cacheBin, source: 'built' };
}

/**
 * Finds or builds every Ollama to test against, following the resolution at the top of this
 * file; the result is sorted oldest first.
 */
export async function getOllamas(options: GetOllamaOptions = {}): Promise<OllamaBinary[]> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = performance.now();
  const envBin = fromEnvBin(env);
  if (envBin) return [{ ...envBin, source: 'env', ms: performance.now() - started }];

  const explicit = (env[VERSIONS_ENV] ?? '').trim() !== '';
  const versions = options.versions ?? requestedVersions(env);
  const onPath: { path: string; version: string }[] = [];
  if (!options.ignorePath) {
    for (const candidate of findOnPath(env)) {
      const version = ollamaVersion(candidate, env);
      if (version !== null && compareVersions(version, OLLAMA_MIN_VERSION) >= 0) onPath.push({ path: candidate, version });
      else log(`get-ollama: ignoring ${candidate} (version ${version ?? 'unknown'} < ${OLLAMA_MIN_VERSION})`);
    }
    const first = onPath[0];
    if (!explicit && first) return [{ ...first, source: 'path', ms: performance.now() - started }];
  }

  const out: OllamaBinary[] = [];
  for (const version of versions) {
    const t0 = performance.now();
    const match = onPath.find((p) => compareVersions(p.version, version) === 0);
    if (match) {
      out.push({ ...match, source: 'path', ms: performance.now() - t0 });
      continue;
    }
    const got = await cachedOrBuilt(version, options, env, log);
    out.push({ path: got.path, version: ollamaVersion(got.path, env) ?? version, source: got.source, ms: performance.now() - t0 });
  }
  return out;
}

/**
 * One Ollama: `options.version` (cached or built), or else the newest requested version, with
 * OLLAMA_BIN and (without OMEGA_OLLAMA_VERSIONS) a PATH ollama still winning.
 */
export async function getOllama(options: GetOllamaOptions = {}): Promise<OllamaBinary> {
  const env = options.env ?? process.env;
  if (options.version !== undefined) {
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const started = performance.now();
    const got = await cachedOrBuilt(options.version, options, env, log);
    return { path: got.path, version: ollamaVersion(got.path, env) ?? options.version, source: got.source, ms: performance.now() - started };
  }
  return (await getOllamas({ ...options, versions: [requestedVersions(env).at(-1)!] })).at(-1)!;
}

async function main(): Promise<void> {
  const bins = await getOllamas();
  for (const bin of bins) console.log(`ollama: ${bin.path} (v${bin.version}, ${bin.source}) in ${formatMs(bin.ms)}`);
}

if (isMain(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`get-ollama: ${(error as Error).message}`);
    process.exitCode = 1;
  });
}
