/**
 * The test runner behind `npm test` (after lint, typecheck and build).
 *
 * It lists test/**\/*.test.ts itself (Node 20 does not expand globs), and when integration
 * files are among them it gets Ollama, generates the tiny model and starts ONE shared
 * `ollama serve` before running every file in ONE `node --test` child, so that node's
 * closing summary counts every test. The server is stopped afterwards whatever happens.
 *
 * Usage: node --import tsx scripts/test.ts [--unit | --integration] [--test-*=... node flags] [file or path filter...]
 *   --unit          only tests outside test/integration/
 *   --integration   only tests in test/integration/
 *   a filter        an existing file or directory, or a substring of a test file's path
 * OMEGA_SKIP_OLLAMA=1 skips the real-Ollama tests, with a banner.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { getOllama } from './get-ollama.js';
import { ensureTinyModel } from './gen-tiny-model.js';
import { REPO_ROOT, formatMs, isMain } from './lib/paths.js';
import { SHARED_BIN_ENV, SHARED_URL_ENV, skipBanner, skipOllama, startOllama } from '../test/support/ollama-harness.js';
import type { OllamaServer } from '../test/support/ollama-harness.js';

/** Per-test limit handed to node: generous, because a cold model load on a slow CI box is slow. */
export const TEST_TIMEOUT_MS = 10 * 60_000;
const INTEGRATION_DIR = 'test/integration/';

/** Every `*.test.ts` under `dir`, as sorted repo-relative POSIX paths. */
export function listTestFiles(root = REPO_ROOT, dir = 'test'): string[] {
  const out: string[] = [];
  const walk = (abs: string): void => {
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = join(abs, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.endsWith('.test.ts')) out.push(relative(root, full).split(sep).join('/'));
    }
  };
  if (existsSync(join(root, dir))) walk(join(root, dir));
  return out.sort();
}

/** Parsed command line. */
export interface RunnerArgs {
  mode: 'all' | 'unit' | 'integration';
  filters: string[];
  nodeFlags: string[];
}

/** Parses the runner's arguments. */
export function parseArgs(argv: readonly string[]): RunnerArgs {
  const args: RunnerArgs = { mode: 'all', filters: [], nodeFlags: [] };
  for (const arg of argv) {
    if (arg === '--unit') args.mode = 'unit';
    else if (arg === '--integration') args.mode = 'integration';
    else if (arg.startsWith('--test-')) args.nodeFlags.push(arg);
    else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}; use --unit, --integration, --test-* node flags or file filters`);
    else args.filters.push(arg);
  }
  return args;
}

/** Applies the mode and the filters to the list of test files. */
export function selectFiles(all: readonly string[], args: RunnerArgs, root = REPO_ROOT): string[] {
  let files = all.filter((f) => {
    const integration = f.startsWith(INTEGRATION_DIR);
    return args.mode === 'all' || (args.mode === 'unit' ? !integration : integration);
  });
  if (args.filters.length > 0) {
    const matchers = args.filters.map((filter) => {
      const abs = resolve(filter);
      if (existsSync(abs)) {
        const rel = relative(root, abs).split(sep).join('/');
        return statSync(abs).isDirectory() ? (f: string) => f.startsWith(`${rel}/`) : (f: string) => f === rel;
      }
      return (f: string) => f.includes(filter);
    });
    files = files.filter((f) => matchers.some((m) => m(f)));
  }
  return files;
}

/** node's closing counts (TAP `# pass 3` or spec `ℹ pass 3`), read from the end of its output. */
export function summaryCounts(output: string): { pass: number; fail: number; skipped: number } | undefined {
  const read = (name: string): number | undefined => {
    const matches = [...output.matchAll(new RegExp(`^(?:#|ℹ) ${name} (\\d+)$`, 'gm'))];
    const last = matches.at(-1);
    return last ? Number(last[1]) : undefined;
  };
  const pass = read('pass');
  const fail = read('fail');
  if (pass === undefined || fail === undefined) return undefined;
  return { pass, fail: fail + (read('cancelled') ?? 0), skipped: read('skipped') ?? 0 };
}

function note(line: string): void {
  // stderr, so that node's closing summary stays the last thing on stdout.
  process.stderr.write(`omega-test: ${line}\n`);
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  const files = selectFiles(listTestFiles(), args);
  if (files.length === 0) {
    note(`no test files match ${args.filters.join(' ') || `mode ${args.mode}`}`);
    return 1;
  }
  const integrationFiles = files.filter((f) => f.startsWith(INTEGRATION_DIR));
  const skipping = integrationFiles.length > 0 && skipOllama();

  let child: ReturnType<typeof spawn> | undefined;
  let interrupted: NodeJS.Signals | undefined;
  // On a signal the child is told to stop; the normal path below then stops the server,
  // cleans up and exits with the child's code. A second signal exits at once (the
  // harness's exit hook still kills the server).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted !== undefined) process.exit(signal === 'SIGINT' ? 130 : 143);
      interrupted = signal;
      note(`${signal}: stopping the tests and the Ollama server`);
      if (child === undefined) process.exit(signal === 'SIGINT' ? 130 : 143);
      child.kill(signal);
    });
  }

  let server: OllamaServer | undefined;
  let setupMs = 0;
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (skipping) {
    process.stderr.write(`${skipBanner()}\n`);
  } else if (integrationFiles.length > 0) {
    const t0 = performance.now();
    const bin = await getOllama({ log: note });
    note(`ollama ${bin.path} (v${bin.version}, ${bin.source}) in ${formatMs(bin.ms)}`);
    const model = ensureTinyModel();
    note(`tiny model ${relative(REPO_ROOT, model.path)} (${Math.round(model.sizeBytes / 1024)} KiB, ${model.written ? 'written' : 'unchanged'}) in ${formatMs(model.ms)}`);
    const t1 = performance.now();
    server = await startOllama({ bin: bin.path, modelFile: model.path, log: note, handleSignals: false });
    note(`shared ollama serve on ${server.url} ready in ${formatMs(performance.now() - t1)}`);
    setupMs = performance.now() - t0;
    env[SHARED_URL_ENV] = server.url;
    env[SHARED_BIN_ENV] = bin.path;
  }

  const timesDir = mkdtempSync(join(tmpdir(), 'omega-test-'));
  const timesFile = join(timesDir, 'files.jsonl');
  const reporter = process.stdout.isTTY ? 'spec' : 'tap';
  const nodeArgs = [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    `--test-timeout=${TEST_TIMEOUT_MS}`,
    `--test-reporter=${reporter}`,
    '--test-reporter-destination=stdout',
    `--test-reporter=${join(REPO_ROOT, 'scripts', 'lib', 'file-times-reporter.mjs')}`,
    `--test-reporter-destination=${timesFile}`,
    ...args.nodeFlags,
    ...files,
  ];
  const started = performance.now();
  let outputTail = '';
  const code = await new Promise<number>((resolvePromise) => {
    child = spawn(process.execPath, nodeArgs, { cwd: REPO_ROOT, env, stdio: ['inherit', 'pipe', 'inherit'] });
    // Passed through as is; the tail is kept to restate node's summary as the closing line.
    child.stdout?.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      outputTail = (outputTail + chunk.toString('utf8')).slice(-8192);
    });
    child.on('error', (err) => {
      note(`could not start node --test: ${err.message}`);
      resolvePromise(1);
    });
    child.on('close', (exitCode, signal) => resolvePromise(exitCode ?? (signal === 'SIGINT' ? 130 : 143)));
  });
  const totalMs = performance.now() - started;
  if (server) {
    if (code !== 0 && interrupted === undefined) {
      process.stderr.write(`--- shared ollama serve log (tail) ---\n${server.logTail(60)}\n--- end of log ---\n`);
    }
    await server.stop();
  }

  let fileTimes: { file: string; ms: number; ok: boolean }[] = [];
  try {
    fileTimes = readFileSync(timesFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { file: string; ms: number; ok: boolean });
  } catch {
    // No times when node died before writing any; the summary just omits them.
  }
  rmSync(timesDir, { recursive: true, force: true });

  const isIntegration = (f: string): boolean => relative(REPO_ROOT, f).split(sep).join('/').startsWith(INTEGRATION_DIR);
  const integrationMs = fileTimes.filter((t) => isIntegration(t.file)).reduce((a, t) => a + t.ms, 0);
  note(
    `${files.length} file(s) ran in ${formatMs(totalMs)}` +
      (server ? `; integration: ${formatMs(integrationMs)} in tests + ${formatMs(setupMs)} getting Ollama and starting it` : ''),
  );
  if (skipping) process.stderr.write(`${skipBanner()}\n`);
  const counts = summaryCounts(outputTail);
  // One plain closing line that any CI log reader understands, after everything else.
  if (counts) process.stdout.write(`omega-test: ${counts.pass} passed, ${counts.fail} failed, ${counts.skipped} skipped\n`);
  return code;
}

if (isMain(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      note((error as Error).message);
      process.exitCode = 1;
    },
  );
}
