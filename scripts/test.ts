/**
 * The test runner behind `npm test` (after lint, typecheck and build).
 *
 * It lists test/**\/*.test.ts itself (Node 20 does not expand globs). The unit files run once,
 * in one `node --test` child. When integration files are among the selected ones it gets every
 * Ollama version to test (scripts/get-ollama.ts: 0.9.6 and 0.17.4 by default), generates the
 * tiny model, gets the real small model (scripts/get-model.ts), and for each version starts
 * ONE shared `ollama serve` and runs the integration files in one `node --test` child with the
 * version in OMEGA_TEST_OLLAMA_VERSION. Each server is stopped afterwards whatever happens.
 * A line per version and one closing line for the whole run sum up node's counts.
 *
 * Usage: node --import tsx scripts/test.ts [--unit | --integration] [--test-*=... node flags] [file or path filter...]
 *   --unit          only tests outside test/integration/
 *   --integration   only tests in test/integration/
 *   a filter        an existing file or directory, or a substring of a test file's path
 * OMEGA_SKIP_OLLAMA=1 skips the real-Ollama tests, with a banner; OMEGA_OLLAMA_VERSIONS chooses versions.
 * When a selected file uses the PostgreSQL harness, one throwaway PostgreSQL cluster is started
 * for the whole run and handed down in OMEGA_TEST_PG_URL (each suite makes its own database);
 * OMEGA_SKIP_POSTGRES=1 skips those tests with a banner, and missing binaries fail the run.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { getOllamas } from './get-ollama.js';
import type { OllamaBinary } from './get-ollama.js';
import { ensureTinyModel } from './gen-tiny-model.js';
import { ensureGemmaModel, gemmaSkipBanner } from './get-model.js';
import { REPO_ROOT, formatMs, isMain } from './lib/paths.js';
import {
  GEMMA_SKIP_ENV,
  SHARED_BIN_ENV,
  SHARED_GEMMA_ENV,
  SHARED_URL_ENV,
  SHARED_VERSION_ENV,
  skipBanner,
  skipOllama,
  startOllama,
} from '../test/support/ollama-harness.js';
import type { OllamaServer } from '../test/support/ollama-harness.js';
import { SHARED_PG_URL_ENV, postgresSkipBanner, skipPostgres, startPostgres } from '../test/support/postgres-harness.js';
import type { PostgresServer } from '../test/support/postgres-harness.js';

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

/** node's counts, summed over several runs. */
export interface Counts {
  pass: number;
  fail: number;
  skipped: number;
}

/** Adds counts; a run without a summary (node died) counts as one failure. */
export function addCounts(a: Counts, b: Counts | undefined): Counts {
  if (b === undefined) return { ...a, fail: a.fail + 1 };
  return { pass: a.pass + b.pass, fail: a.fail + b.fail, skipped: a.skipped + b.skipped };
}

/** The per-version line (worded so that no CI parser mistakes it for the closing line). */
export function versionLine(version: string, counts: Counts | undefined, testsMs: number, setupMs: number): string {
  const c = counts ? `${counts.pass} pass / ${counts.fail} fail / ${counts.skipped} skipped` : 'no summary (node --test died)';
  return `[ollama ${version}] integration ${c}; tests ${formatMs(testsMs)}, server start and model import ${formatMs(setupMs)}`;
}

/** One `node --test` child's outcome. */
interface NodeRun {
  code: number;
  counts: Counts | undefined;
  ms: number;
}

function note(line: string): void {
  // stderr, so that the closing summary stays the last thing on stdout.
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
  const unitFiles = files.filter((f) => !f.startsWith(INTEGRATION_DIR));
  const skipping = integrationFiles.length > 0 && skipOllama();

  let child: ReturnType<typeof spawn> | undefined;
  let interrupted: NodeJS.Signals | undefined;
  // On a signal the running child is told to stop; the normal path below then stops the
  // server, cleans up and exits with the child's code. A second signal exits at once (the
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

  const runNode = async (runFiles: string[], env: NodeJS.ProcessEnv): Promise<NodeRun> => {
    const reporter = process.stdout.isTTY ? 'spec' : 'tap';
    const nodeArgs = [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=1',
      `--test-timeout=${TEST_TIMEOUT_MS}`,
      `--test-reporter=${reporter}`,
      '--test-reporter-destination=stdout',
      ...args.nodeFlags,
      ...runFiles,
    ];
    const started = performance.now();
    let outputTail = '';
    const code = await new Promise<number>((resolvePromise) => {
      child = spawn(process.execPath, nodeArgs, { cwd: REPO_ROOT, env, stdio: ['inherit', 'pipe', 'inherit'] });
      // Passed through as is; the tail is kept to read node's summary.
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
    child = undefined;
    return { code, counts: summaryCounts(outputTail), ms: performance.now() - started };
  };

  let total: Counts = { pass: 0, fail: 0, skipped: 0 };
  let worst = 0;
  const started = performance.now();
  const lines: string[] = [];

  // One PostgreSQL cluster for every file that uses it (unit and integration alike).
  const pgFiles = files.filter((f) => readFileSync(join(REPO_ROOT, f), 'utf8').includes('postgres-harness'));
  const skippingPg = pgFiles.length > 0 && skipPostgres();
  let pgServer: PostgresServer | undefined;
  if (pgFiles.length > 0 && !skippingPg) {
    const t0 = performance.now();
    try {
      pgServer = await startPostgres({ log: note, handleSignals: false });
      process.once('exit', () => pgServer?.stop());
      process.env[SHARED_PG_URL_ENV] = pgServer.url;
      note(`shared PostgreSQL on ${pgServer.host}:${pgServer.port} ready in ${formatMs(performance.now() - t0)}`);
    } catch (error) {
      // The files that need it then try on their own and fail with the same reason.
      note(`PostgreSQL could not start: ${(error as Error).message}`);
      worst = 1;
    }
  }
  if (skippingPg) process.stderr.write(`${postgresSkipBanner()}\n`);

  if (unitFiles.length > 0) {
    const unit = await runNode(unitFiles, { ...process.env });
    total = addCounts(total, unit.counts);
    worst = worst || unit.code;
    lines.push(`unit: ${unitFiles.length} file(s) in ${formatMs(unit.ms)}`);
  }

  if (integrationFiles.length > 0 && skipping) {
    process.stderr.write(`${skipBanner()}\n`);
    const run = await runNode(integrationFiles, { ...process.env });
    total = addCounts(total, run.counts);
    worst = worst || run.code;
  } else if (integrationFiles.length > 0 && interrupted === undefined) {
    const t0 = performance.now();
    const bins: OllamaBinary[] = await getOllamas({ log: note });
    for (const bin of bins) note(`ollama ${bin.path} (v${bin.version}, ${bin.source}) in ${formatMs(bin.ms)}`);
    const tiny = ensureTinyModel();
    note(`tiny model ${relative(REPO_ROOT, tiny.path)} (${Math.round(tiny.sizeBytes / 1024)} KiB, ${tiny.written ? 'written' : 'unchanged'}) in ${formatMs(tiny.ms)}`);
    let gemmaFile: string | undefined;
    let gemmaSkip: string | undefined;
    try {
      const gemma = await ensureGemmaModel({ log: note });
      gemmaFile = gemma.path;
      note(`real model ${relative(REPO_ROOT, gemma.path)} (${gemma.source}) in ${formatMs(gemma.ms)}`);
    } catch (error) {
      gemmaSkip = (error as Error).message;
      process.stderr.write(`${gemmaSkipBanner(gemmaSkip)}\n`);
    }
    lines.push(`getting Ollama and the models: ${formatMs(performance.now() - t0)}`);

    for (const bin of bins) {
      if (interrupted !== undefined) break;
      const t1 = performance.now();
      let server: OllamaServer | undefined;
      try {
        server = await startOllama({ bin: bin.path, modelFile: tiny.path, gemmaFile, log: (l) => note(`[ollama ${bin.version}] ${l}`), handleSignals: false });
      } catch (error) {
        note(`[ollama ${bin.version}] could not start: ${(error as Error).message}`);
        total = addCounts(total, undefined);
        worst = worst || 1;
        lines.push(versionLine(bin.version, undefined, 0, performance.now() - t1));
        continue;
      }
      const setupMs = performance.now() - t1;
      note(`[ollama ${bin.version}] shared ollama serve on ${server.url} ready in ${formatMs(setupMs)}`);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        [SHARED_URL_ENV]: server.url,
        [SHARED_BIN_ENV]: bin.path,
        [SHARED_VERSION_ENV]: bin.version,
        [SHARED_GEMMA_ENV]: server.gemma ?? '',
        [GEMMA_SKIP_ENV]: gemmaSkip ?? '',
      };
      const run = await runNode(integrationFiles, env);
      if (run.code !== 0 && interrupted === undefined) {
        process.stderr.write(`--- ollama ${bin.version} serve log (tail) ---\n${server.logTail(60)}\n--- end of log ---\n`);
      }
      await server.stop();
      total = addCounts(total, run.counts);
      worst = worst || run.code;
      lines.push(versionLine(bin.version, run.counts, run.ms, setupMs));
    }
    if (gemmaSkip !== undefined) process.stderr.write(`${gemmaSkipBanner(gemmaSkip)}\n`);
  }

  pgServer?.stop();
  note(`${files.length} file(s) ran in ${formatMs(performance.now() - started)}`);
  for (const line of lines) note(line);
  if (skipping) process.stderr.write(`${skipBanner()}\n`);
  if (skippingPg) process.stderr.write(`${postgresSkipBanner()}\n`);
  // One plain closing line that any CI log reader understands, after everything else.
  process.stdout.write(`omega-test: ${total.pass} passed, ${total.fail} failed, ${total.skipped} skipped\n`);
  return interrupted !== undefined ? (interrupted === 'SIGINT' ? 130 : 143) : worst;
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
