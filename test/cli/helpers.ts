/**
 * Running the `omega` CLI as a subprocess, and a small scripted Ollama look-alike for it to
 * talk to. The child runs from source (`node --import tsx src/cli/main.ts`), with HOME and
 * the working directory in a temp dir so no real config or database is touched.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeOllama, chatLine, doneLine, ndjson, type RecordedRequest, type Step } from '../support/fake-ollama.js';

/** Repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The CLI entry point, run from source. */
export const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
// Resolved here because the child's working directory is a temp dir without node_modules.
const TSX = import.meta.resolve('tsx');

/** What a finished CLI run produced. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link runCli} and {@link spawnCli}. */
export interface RunOptions {
  /** Temp dir used as HOME and working directory. */
  home: string;
  /** Extra environment (merged over a clean one). */
  env?: Record<string, string | undefined>;
  /** Written to stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string;
  /** Kill the child after this long (generous: it is a sanity limit, not an assertion). */
  timeoutMs?: number;
  /** Keep stdin an open pipe (for interactive tests). */
  stdinPipe?: boolean;
}

/** A clean environment: no OLLAMA_HOST, OMEGA_CONFIG, colour forcing or npm noise from the test's own. */
export function cleanEnv(home: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'LANG', 'TMPDIR', 'SYSTEMROOT']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  env.HOME = home;
  // No forced exit: a leaked handle must make the test fail, not be papered over.
  env.OMEGA_STRICT_EXIT = '1';
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Starts the CLI; the caller owns the child. */
export function spawnCli(args: string[], options: RunOptions): ChildProcess {
  return spawn(process.execPath, ['--import', TSX, MAIN, ...args], {
    cwd: options.home,
    env: cleanEnv(options.home, options.env),
    stdio: [options.input !== undefined || options.stdinPipe === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
}

/** Collects a child's output until it exits. */
export function collect(child: ChildProcess, timeoutMs = 60_000): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`omega did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** Runs the CLI to completion. */
export async function runCli(args: string[], options: RunOptions): Promise<CliResult> {
  const child = spawnCli(args, options);
  if (options.input !== undefined) child.stdin?.end(options.input);
  return collect(child, options.timeoutMs);
}

/** Resolves once `read()` satisfies `test`, polling; rejects after `timeoutMs`. */
export async function waitFor(what: string, test: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A temp directory; call `remove()` when done. */
export function tempHome(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), '.omega-test-cli-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Writes a config.toml into `dir` pointing at `baseUrl`, and returns its path. */
export function writeConfig(dir: string, opts: { baseUrl: string; model?: string; extra?: string; name?: string }): string {
  const file = join(dir, opts.name ?? 'config.toml');
  writeFileSync(
    file,
    [
      '[provider.ollama]',
      'enabled = true',
      `base_url = "${opts.baseUrl}"`,
      `model = "${opts.model ?? 'tiny'}"`,
      '',
      '[memory]',
      `db_path = "${join(dir, 'memory.db').replace(/\\/g, '/')}"`,
      '',
      opts.extra ?? '',
    ].join('\n'),
  );
  return file;
}

/** A loopback port nothing listens on (as far as anyone can tell). */
export async function closedPort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createNetServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolvePromise(port));
    });
  });
}

/** How the fake answers `/api/chat`. */
export interface ChatScript {
  /** Content pieces, one NDJSON line each. */
  chunks?: string[];
  /** Thinking pieces, sent before the content. */
  thinking?: string[];
  /** After this many content lines, stop sending and hold the connection open. */
  stallAfter?: number;
}

/** A recorded request. */
export interface Recorded {
  method: string;
  path: string;
  body: unknown;
}

/** An installed model of the scripted Ollama. */
export interface FakeModel {
  name: string;
  size: number;
  parameterSize: string;
  quantization: string;
  contextLength: number;
  capabilities: string[];
}

/** A fake Ollama that behaves like a small installation: models, ps, show, chat and pull. */
export interface ScriptedOllama {
  url: string;
  /** Requests so far (clear with `requests.length = 0`). */
  requests: Recorded[];
  /** How the next `/api/chat` calls are answered. */
  chat: ChatScript;
  models: FakeModel[];
  running: { name: string; size: number; expiresAt: string }[];
  /** Model names the "registry" has; others get Ollama's `file does not exist` error line. */
  pullable: Set<string>;
  /** Chat responses held open by `stallAfter` right now. */
  readonly stalls: number;
  close(): Promise<void>;
}

const CREATED = '2025-07-07T20:22:19.184789Z';

/**
 * Starts the shared {@link FakeOllama} (test/support) with routes that answer like Ollama
 * 0.9.6 with the models in `models` installed.
 */
export async function startFakeOllama(): Promise<ScriptedOllama> {
  const server = await FakeOllama.start();
  const chatRequests: RecordedRequest[] = [];
  const state: ScriptedOllama = {
    url: server.url,
    requests: [],
    chat: { chunks: ['The sky ', 'is blue ', 'because of Rayleigh scattering.'] },
    models: [
      { name: 'tiny:latest', size: 12_345_678, parameterSize: '1.2M', quantization: 'F16', contextLength: 2048, capabilities: ['completion'] },
      { name: 'tiny-tools:latest', size: 23_000_000, parameterSize: '1.2M', quantization: 'Q8_0', contextLength: 4096, capabilities: ['completion', 'tools'] },
    ],
    running: [],
    pullable: new Set(['tiny-remote']),
    get stalls() {
      return chatRequests.filter((r) => !r.over && stalledChats.has(r)).length;
    },
    close: () => server.close(),
  };
  const stalledChats = new Set<RecordedRequest>();
  const find = (name: string): FakeModel | undefined => state.models.find((m) => m.name === name || m.name === `${name}:latest`);
  const record = (req: RecordedRequest): { model: string; body: Record<string, unknown> } => {
    const body = (req.json ?? {}) as Record<string, unknown>;
    state.requests.push({ method: req.method, path: req.path, body: req.json });
    return { model: typeof body.model === 'string' ? body.model : '', body };
  };
  const details = (m: FakeModel) => ({
    parent_model: '',
    format: 'gguf',
    family: 'llama',
    families: ['llama'],
    parameter_size: m.parameterSize,
    quantization_level: m.quantization,
  });

  server.route('GET', '/', (req) => (record(req), { body: 'Ollama is running' }));
  server.route('GET', '/api/version', (req) => (record(req), { body: { version: '0.9.6' } }));
  server.route('GET', '/api/tags', (req) => {
    record(req);
    return {
      body: {
        models: state.models.map((m) => ({ name: m.name, model: m.name, modified_at: CREATED, size: m.size, digest: 'a'.repeat(64), details: details(m) })),
      },
    };
  });
  server.route('GET', '/api/ps', (req) => {
    record(req);
    return {
      body: {
        models: state.running.map((m) => {
          const model = find(m.name);
          return {
            name: m.name,
            model: m.name,
            size: m.size,
            size_vram: 0,
            digest: 'b'.repeat(64),
            details: model === undefined ? {} : details(model),
            expires_at: m.expiresAt,
          };
        }),
      },
    };
  });
  server.route('POST', '/api/show', (req) => {
    const { model: name } = record(req);
    const m = find(name);
    if (m === undefined) return { status: 404, body: { error: `model '${name}' not found` } };
    return {
      body: {
        template: '{{ .Prompt }}',
        details: details(m),
        model_info: { 'general.architecture': 'llama', 'llama.context_length': m.contextLength },
        capabilities: m.capabilities,
      },
    };
  });
  server.route('POST', '/api/chat', (req) => {
    const { model, body } = record(req);
    if (find(model) === undefined) return { status: 404, body: { error: `model "${model}" not found, try pulling it first` } };
    const script = state.chat;
    const thinking = script.thinking ?? [];
    const chunks = script.chunks ?? [];
    const final = doneLine({ model, prompt_eval_count: 7, eval_count: chunks.length });
    chatRequests.push(req);
    if (body.stream === false) {
      if (script.stallAfter !== undefined) {
        stalledChats.add(req);
        return { hang: true };
      }
      const message: Record<string, string> = { role: 'assistant', content: chunks.join('') };
      if (thinking.length > 0) message.thinking = thinking.join('');
      return { body: { ...final, message } };
    }
    const lines = [
      ...thinking.map((t) => chatLine('', { model, message: { role: 'assistant', content: '', thinking: t } })),
      ...chunks.slice(0, script.stallAfter ?? chunks.length).map((c) => chatLine(c, { model })),
    ];
    const steps: Step[] = lines.map((line) => ({ write: ndjson(line) }));
    if (script.stallAfter !== undefined) {
      stalledChats.add(req);
      steps.push({ hang: true });
    } else {
      steps.push({ write: ndjson(final) });
    }
    return { steps };
  });
  server.route('POST', '/api/pull', (req) => {
    const { model } = record(req);
    const lines: unknown[] = [{ status: 'pulling manifest' }];
    if (!state.pullable.has(model)) {
      lines.push({ error: 'pull model manifest: file does not exist' });
    } else {
      const digest = `sha256:${'c'.repeat(64)}`;
      for (const completed of [0, 500_000, 1_000_000]) lines.push({ status: `pulling ${'c'.repeat(12)}`, digest, total: 1_000_000, completed });
      for (const status of ['verifying sha256 digest', 'writing manifest', 'success']) lines.push({ status });
    }
    return { steps: lines.map((line) => ({ write: ndjson(line) })) };
  });
  return state;
}

/**
 * Runs the CLI with `input` on a real pipe (a FIFO, as `printf ... | omega ...` in a shell
 * makes), which is what the CLI reads in addition to a prompt given as arguments.
 */
export async function runCliWithPipedStdin(input: string, args: string[], options: RunOptions): Promise<CliResult> {
  const child = spawn('/bin/sh', ['-c', 'printf "%s" "$OMEGA_TEST_INPUT" | "$0" --import "$OMEGA_TEST_TSX" "$OMEGA_TEST_MAIN" "$@"', process.execPath, ...args], {
    cwd: options.home,
    env: { ...cleanEnv(options.home, options.env), OMEGA_TEST_INPUT: input, OMEGA_TEST_TSX: TSX, OMEGA_TEST_MAIN: MAIN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child, options.timeoutMs);
}
