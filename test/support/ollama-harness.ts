/**
 * Runs a real `ollama serve` for the integration tests.
 *
 * The server gets a free loopback port, its own OLLAMA_MODELS and HOME under a temp dir
 * (so it neither sees the user's models nor writes keys into the real home), and the
 * tiny generated model registered twice: `omega-tiny` (ChatML, no tools) and
 * `omega-tiny-tools` (a TEMPLATE that references .Tools, so Ollama grants `tools`); when
 * given the real small model's GGUF (scripts/get-model.ts), also `omega-gemma`.
 * The server is always stopped and the temp dir removed: by `stop()`, and on process
 * exit or SIGINT/SIGTERM for anything still running.
 *
 * Test files call {@link useOllama}; scripts/test.ts starts one shared server per Ollama
 * version with {@link startOllama} and passes it down in OMEGA_TEST_OLLAMA_URL (with the
 * version in OMEGA_TEST_OLLAMA_VERSION, so tests can branch on wire differences).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before } from 'node:test';
import { getOllama } from '../../scripts/get-ollama.js';
import { ensureTinyModel } from '../../scripts/gen-tiny-model.js';
import { GEMMA, ensureGemmaModel, gemmaSkipBanner } from '../../scripts/get-model.js';

/** Names the harness gives the two models it creates. */
export const TINY_MODELS = { plain: 'omega-tiny', tools: 'omega-tiny-tools' } as const;

/** Env var through which the test runner hands its shared server to test files. */
export const SHARED_URL_ENV = 'OMEGA_TEST_OLLAMA_URL';
/** Env var with the shared server's ollama binary (for tests that run the ollama CLI). */
export const SHARED_BIN_ENV = 'OMEGA_TEST_OLLAMA_BIN';
/** Env var that skips every real-Ollama test. */
export const SKIP_ENV = 'OMEGA_SKIP_OLLAMA';
/** Env var with the version of the shared server's Ollama. */
export const SHARED_VERSION_ENV = 'OMEGA_TEST_OLLAMA_VERSION';
/** Env var with the name of the real small model on the shared server (when it was imported). */
export const SHARED_GEMMA_ENV = 'OMEGA_TEST_GEMMA_MODEL';
/** Env var with the reason the real small model is not available (set by the runner instead). */
export const GEMMA_SKIP_ENV = 'OMEGA_TEST_GEMMA_SKIP';
/** The name the real small model gets in Ollama. */
export const GEMMA_MODEL = GEMMA.ollamaName;

/** A ChatML template that mentions .Tools, which is all Ollama checks for the `tools` capability. */
export const TOOLS_TEMPLATE = `{{- if .Tools }}<|im_start|>system
You can call these tools: {{ range .Tools }}{{ .Function.Name }} {{ end }}<|im_end|>
{{ end }}{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
`;

/** The Modelfile of the real small model: the GGUF as is (its own template is `{{ .Prompt }}`). */
export function gemmaModelfile(ggufPath: string): string {
  return `FROM ${ggufPath}\n`;
}

/** The Modelfiles of the two models. */
export function modelfiles(ggufName = 'tiny.gguf'): { plain: string; tools: string } {
  // num_thread 1: on a 2-core machine one thread is far faster than two for a model this small.
  const base = `FROM ./${ggufName}\nPARAMETER num_thread 1\n`;
  return {
    plain: base,
    tools: `${base}PARAMETER stop <|im_start|>\nPARAMETER stop <|im_end|>\nTEMPLATE """${TOOLS_TEMPLATE}"""\n`,
  };
}

/** A running (or stopped) Ollama server. */
export interface OllamaServer {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** The value for OLLAMA_HOST, e.g. `127.0.0.1:40123`. */
  readonly host: string;
  /** The ollama binary. */
  readonly bin: string;
  readonly models: { plain: string; tools: string };
  /** The real small model's name when it was imported, else undefined. */
  readonly gemma: string | undefined;
  /** The server's combined stdout/stderr (gone after stop; see {@link logTail}). */
  readonly logFile: string;
  /** True when this handle started the server (false for a shared one it only reuses). */
  readonly owned: boolean;
  /** The last `lines` lines of the server log; still available after stop. */
  logTail(lines?: number): string;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
  readonly stopped: boolean;
  /**
   * Kills the server's process group at once (a host that dies), keeping its port and models for
   * {@link restart}; resolves when it has exited.
   */
  kill(): Promise<void>;
  /** Sends `signal` to the server's process group (SIGSTOP freezes a host, SIGCONT thaws it). */
  signal(signal: NodeJS.Signals): void;
  /** Starts a killed server again on the same port with the same models, and waits until it answers. */
  restart(options?: { startTimeoutMs?: number }): Promise<void>;
}

/** Options of {@link startOllama}. */
export interface StartOllamaOptions {
  /** The ollama binary; found (or built) with getOllama() by default. */
  bin?: string;
  /** The GGUF to register; generated with ensureTinyModel() by default. */
  modelFile?: string;
  /** Create the two models (default true). A bare server starts faster. */
  createModels?: boolean;
  /** The real small model's GGUF, imported as `omega-gemma` when given (with createModels). */
  gemmaFile?: string;
  /** Create the two tiny models (default true); false with gemmaFile imports only the real one. */
  tinyModels?: boolean;
  /** The Ollama version to get when `bin` is not given (default: the newest). */
  version?: string;
  /** Extra environment for the server. */
  env?: Record<string, string>;
  /** Limit for the server to answer GET / (default 60 s). */
  startTimeoutMs?: number;
  /** Progress lines; silent by default. */
  log?: (line: string) => void;
  /**
   * Stop the server and exit on SIGINT/SIGTERM (default true). A caller with its own
   * shutdown sequence (scripts/test.ts) turns this off and calls stop() itself; the
   * last-resort kill on process exit stays in place either way.
   */
  handleSignals?: boolean;
}

/** True when the real-Ollama tests are to be skipped. */
export function skipOllama(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[SKIP_ENV];
  return v === '1' || v === 'true';
}

/** The reason string for `{ skip }`, or false when the tests run. */
export function ollamaSkipReason(env: NodeJS.ProcessEnv = process.env): string | false {
  return skipOllama(env) ? `${SKIP_ENV}=1: real-Ollama integration tests are NOT RUN` : false;
}

/** A banner that is hard to miss in a CI log. */
export function skipBanner(): string {
  const line = '!'.repeat(78);
  return [
    line,
    `!!! ${SKIP_ENV}=1 is set: the integration tests against a real Ollama are SKIPPED.`,
    '!!! Nothing in this run checks Omega against a real `ollama serve`.',
    `!!! Unset ${SKIP_ENV} to run them (npm test gets or builds Ollama by itself).`,
    line,
  ].join('\n');
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function tailOf(text: string, lines: number): string {
  return text.split('\n').slice(-lines - 1).join('\n').trimEnd();
}

/** The server log without gin's route table (0.9.6 is built in gin debug mode), which is noise in a tail. */
function usefulLog(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('[GIN-debug]') && !l.startsWith(' - using ') && l.trim() !== '')
    .join('\n');
}

/** The environment of the server and of `ollama` CLI calls: no inherited OLLAMA_* settings. */
function serverEnv(home: string, host: string, models: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // OLLAMA_NEW_ENGINE, OLLAMA_MODELS, OLLAMA_HOST... from the developer's shell must not
    // change what is tested: the llama.cpp runner, our temp models, our port.
    if (!k.startsWith('OLLAMA_')) env[k] = v;
  }
  return { ...env, HOME: home, OLLAMA_HOST: host, OLLAMA_MODELS: models, ...extra };
}

// Everything still running, so exit and signal handlers can clean up.
const live = new Set<{ child: ChildProcess; dir: string; stop: () => Promise<void> }>();
let exitHandlerInstalled = false;
let signalHandlersInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // The server runs in its own process group so its runner children go with it.
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

function installHandlers(signals: boolean): void {
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    process.on('exit', () => {
      // Last resort, synchronous: no time for a graceful stop here.
      for (const s of live) {
        killGroup(s.child, 'SIGKILL');
        rmSync(s.dir, { recursive: true, force: true });
      }
    });
  }
  if (!signals || signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      const code = signal === 'SIGINT' ? 130 : 143;
      const stops = [...live].map((s) => s.stop());
      const timer = setTimeout(() => process.exit(code), 15_000);
      void Promise.allSettled(stops).then(() => {
        clearTimeout(timer);
        process.exit(code);
      });
    });
  }
}

async function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

async function waitForHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`ollama serve exited (${child.signalCode ?? `code ${child.exitCode}`}) before answering GET /`);
    }
    try {
      const res = await fetch(`${url}/`, { signal: AbortSignal.timeout(2000) });
      const body = await res.text();
      if (res.ok && body.includes('Ollama is running')) return;
      last = `HTTP ${res.status} ${body.slice(0, 80)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`ollama serve did not answer GET ${url}/ within ${timeoutMs} ms (last: ${last})`);
}

function createModel(bin: string, name: string, modelfile: string, cwd: string, env: NodeJS.ProcessEnv): void {
  const r = spawnSync(bin, ['create', name, '-f', modelfile], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  if (r.error || r.status !== 0) {
    // The CLI redraws progress with escape codes; keep only readable text.
    const esc = String.fromCharCode(27);
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.replace(new RegExp(`${esc}\\[[0-9;?]*[A-Za-z]`, 'g'), '').trim();
    throw new Error(`\`ollama create ${name}\` failed (${r.error?.message ?? `exit ${r.status}`}): ${tailOf(out, 10)}`);
  }
}

/** Starts `ollama serve` on a free loopback port and (by default) creates the two tiny models. */
export async function startOllama(options: StartOllamaOptions = {}): Promise<OllamaServer> {
  const log = options.log ?? (() => {});
  const bin = options.bin ?? (await getOllama({ log, ...(options.version ? { version: options.version } : {}) })).path;
  const dir = mkdtempSync(join(tmpdir(), 'omega-ollama-'));
  const home = join(dir, 'home');
  const modelsDir = join(dir, 'models');
  mkdirSync(home);
  mkdirSync(modelsDir);
  const logFile = join(dir, 'serve.log');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  const env = serverEnv(home, host, modelsDir, options.env);

  const spawnServe = (): ChildProcess => {
    const logFd = openSync(logFile, 'a');
    let spawned: ChildProcess;
    try {
      spawned = spawn(bin, ['serve'], { cwd: dir, env, stdio: ['ignore', logFd, logFd], detached: true });
    } finally {
      closeSync(logFd);
    }
    // Only our own cleanup should keep the test process waiting on this child.
    spawned.unref();
    return spawned;
  };
  let child = spawnServe();

  let stopped = false;
  let savedTail = '';
  const readLog = (): string => {
    try {
      return usefulLog(readFileSync(logFile, 'utf8'));
    } catch {
      return savedTail;
    }
  };
  const entry = {
    child,
    dir,
    stop: async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      killGroup(child, 'SIGTERM');
      if (!(await waitForExit(child, 10_000))) {
        killGroup(child, 'SIGKILL');
        await waitForExit(child, 5_000);
      }
      savedTail = tailOf(readLog(), 200);
      live.delete(entry);
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
  live.add(entry);
  installHandlers(options.handleSignals ?? true);

  let gemma: string | undefined;
  const server: OllamaServer = {
    url,
    host,
    bin,
    models: { ...TINY_MODELS },
    get gemma() {
      return gemma;
    },
    logFile,
    owned: true,
    logTail: (lines = 40) => tailOf(readLog(), lines),
    stop: entry.stop,
    get stopped() {
      return stopped;
    },
    kill: async () => {
      killGroup(child, 'SIGKILL');
      await waitForExit(child, 5_000);
    },
    signal: (signal) => killGroup(child, signal),
    restart: async (opts = {}) => {
      if (stopped) throw new Error('restart(): the server was stopped and its models removed');
      killGroup(child, 'SIGKILL');
      await waitForExit(child, 5_000);
      child = spawnServe();
      entry.child = child;
      await waitForHealthy(url, child, opts.startTimeoutMs ?? 60_000);
    },
  };

  try {
    const t0 = Date.now();
    await waitForHealthy(url, child, options.startTimeoutMs ?? 60_000);
    log(`ollama serve answered on ${url} after ${Date.now() - t0} ms`);
    if (options.createModels ?? true) {
      if (options.tinyModels ?? true) {
        const gguf = options.modelFile ?? ensureTinyModel().path;
        copyFileSync(gguf, join(dir, 'tiny.gguf'));
        const files = modelfiles('tiny.gguf');
        writeFileSync(join(dir, 'Modelfile.plain'), files.plain);
        writeFileSync(join(dir, 'Modelfile.tools'), files.tools);
        const t1 = Date.now();
        createModel(bin, TINY_MODELS.plain, 'Modelfile.plain', dir, env);
        createModel(bin, TINY_MODELS.tools, 'Modelfile.tools', dir, env);
        log(`created ${TINY_MODELS.plain} and ${TINY_MODELS.tools} in ${Date.now() - t1} ms`);
      }
      if (options.gemmaFile !== undefined) {
        writeFileSync(join(dir, 'Modelfile.gemma'), gemmaModelfile(options.gemmaFile));
        const t2 = Date.now();
        createModel(bin, GEMMA_MODEL, 'Modelfile.gemma', dir, env);
        gemma = GEMMA_MODEL;
        log(`imported ${GEMMA_MODEL} (${(GEMMA.sizeBytes / 1e6).toFixed(0)} MB) in ${Date.now() - t2} ms`);
      }
    }
  } catch (error) {
    const tail = server.logTail(40);
    await server.stop();
    throw new Error(`${(error as Error).message}\n--- ollama serve log (tail) ---\n${tail}`, { cause: error });
  }
  return server;
}

/** The fixture {@link useOllama} returns; its fields are valid from the first test on. */
export interface OllamaFixture {
  readonly url: string;
  readonly host: string;
  readonly bin: string;
  readonly models: { plain: string; tools: string };
  /** The server's version (GET /api/version), e.g. `0.17.4`. */
  readonly version: string;
  /** The real small model's name on this server, or undefined when it was not imported. */
  readonly gemma: string | undefined;
  /** True when the server is the runner's shared one. */
  readonly shared: boolean;
  /** The server log's tail ('' for a shared server: the runner prints that one). */
  logTail(lines?: number): string;
}

/**
 * Registers before/after hooks that provide a server to the enclosing suite: the runner's
 * shared one when OMEGA_TEST_OLLAMA_URL is set, else one started for this file and
 * stopped in after(). When a test failed, the server log's tail is printed.
 */
export function useOllama(options: StartOllamaOptions & { startTimeoutMs?: number } = {}): OllamaFixture {
  let server: OllamaServer | undefined;
  let sharedUrl: string | undefined;
  let version: string | undefined;
  let failed = false;
  const need = (): never => {
    throw new Error('useOllama(): the server is only available inside tests (after the before() hook ran)');
  };

  before(
    async () => {
      if (skipOllama()) return;
      sharedUrl = process.env[SHARED_URL_ENV];
      if (!sharedUrl) server = await startOllama(options);
      const res = await fetch(`${server?.url ?? sharedUrl}/api/version`);
      version = ((await res.json()) as { version: string }).version;
    },
    { timeout: 20 * 60_000 },
  );
  afterEach((t) => {
    if ((t as { passed?: boolean }).passed === false) failed = true;
  });
  after(async () => {
    if (server === undefined) return;
    if (failed) console.error(`--- ollama serve log (tail) ---\n${server.logTail(60)}`);
    await server.stop();
  });

  return {
    get url() {
      return server?.url ?? sharedUrl ?? need();
    },
    get host() {
      if (server) return server.host;
      return sharedUrl ? new URL(sharedUrl).host : need();
    },
    get bin() {
      return server?.bin ?? process.env[SHARED_BIN_ENV] ?? need();
    },
    get models() {
      return { ...TINY_MODELS };
    },
    get version() {
      return version ?? need();
    },
    get gemma() {
      if (server) return server.gemma;
      return sharedUrl ? process.env[SHARED_GEMMA_ENV] || undefined : need();
    },
    get shared() {
      return server === undefined && sharedUrl !== undefined;
    },
    logTail(lines?: number) {
      return server ? server.logTail(lines) : '';
    },
  };
}

/** What a test file that needs the real small model gets from {@link realModelForTests}. */
export interface RealModelForTests {
  /** The reason its tests are skipped, or false when they run. */
  skip: string | false;
  /** The GGUF to hand to useOllama() when the file starts its own server. */
  gemmaFile?: string;
}

/**
 * Decides, at a test file's top level, whether the real small model is there: the runner's
 * shared server says so in the environment; a file run alone fetches the model itself. When it
 * cannot be had, a loud banner goes to stderr and the tests are skipped with the reason.
 */
export async function realModelForTests(): Promise<RealModelForTests> {
  const skipAll = ollamaSkipReason();
  if (skipAll) return { skip: skipAll };
  const runnerSkip = process.env[GEMMA_SKIP_ENV];
  if (runnerSkip) return { skip: `the real small model is NOT AVAILABLE: ${runnerSkip}` };
  if (process.env[SHARED_URL_ENV]) {
    return process.env[SHARED_GEMMA_ENV] ? { skip: false } : { skip: 'the shared server has no real small model imported' };
  }
  try {
    const model = await ensureGemmaModel({ log: (line) => process.stderr.write(`${line}\n`) });
    return { skip: false, gemmaFile: model.path };
  } catch (error) {
    const reason = (error as Error).message;
    process.stderr.write(`${gemmaSkipBanner(reason)}\n`);
    return { skip: `the real small model is NOT AVAILABLE: ${reason}` };
  }
}

/** Runs the real `ollama` CLI `bin` against `host`; resolves with its exit code and output. */
export function ollamaCli(bin: string, host: string, args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: { ...process.env, OLLAMA_HOST: host, HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ollama ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
