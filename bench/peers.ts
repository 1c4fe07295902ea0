/**
 * The gateways the gateway benchmark puts in front of the synthetic server: `omega serve`,
 * LiteLLM's proxy and Portkey's gateway. Installs the two peers into `.cache/bench/` on first
 * use (pinned versions, so that runs compare the same code), starts each as its own process
 * group on a loopback port, and stops them on every way out of the runner, including Ctrl-C.
 *
 * A gateway that cannot be installed or started is not an error of the bench: its row says why,
 * with the error, and the other rows are measured.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { GatewayTarget } from './gw-client.js';

/** The versions the bench installs. LiteLLM's newer proxy extras pin a package PyPI does not serve (see docs/benchmarks.md). */
export const LITELLM_VERSION = '1.108.7';
export const PORTKEY_VERSION = '1.15.2';
/**
 * Portkey 1.15.2 accepts `@hono/node-server` ^1.3.3, and the newest (1.19.x) fails every
 * streamed call with `TypeError: immutable`; these are the versions of Portkey's own lock file.
 */
const PORTKEY_OVERRIDES = { '@hono/node-server': '1.13.5', hono: '4.9.7' };

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Where the peers are installed: ignored by git, kept between runs. */
export const CACHE_DIR = join(ROOT, '.cache/bench');

/** A gateway process the bench started. */
export interface RunningGateway {
  readonly pid: number;
  /** `http://127.0.0.1:<port>`. */
  readonly baseUrl: string;
  /** The version that runs. */
  readonly version: string;
  /** Where its stdout and stderr go, for the report when something fails. */
  readonly logFile: string;
  stop(): Promise<void>;
}

/** A gateway that could not be installed or started, and why. */
export interface Unavailable {
  unavailable: string;
}

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: every gateway runs in its own process group, killed as a group.

const live = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // 'exit' handlers run synchronously on every normal or error exit; SIGKILL is synchronous.
  process.on('exit', () => {
    for (const c of live) killGroup(c, 'SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const c of live) killGroup(c, 'SIGKILL');
      process.exit(130);
    });
  }
}

/** A free loopback port (taken by the kernel, then released for the gateway to bind). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function tail(file: string, lines = 6): string {
  try {
    // Without terminal colour codes (ESC [ ... m).
    const text = readFileSync(file, 'utf8').replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '').trim();
    return text.split('\n').slice(-lines).join(' | ');
  } catch {
    return '';
  }
}

/**
 * Starts `cmd` as a gateway in its own process group, output to a log file, and waits until
 * `readyUrl` answers over HTTP (any status), the process exits, or `timeoutMs` passes.
 */
export async function startProcess(opts: {
  name: string;
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  /** Variables removed from the inherited environment. */
  unsetEnv?: string[];
  cwd?: string;
  port: number;
  readyPath: string;
  version: string;
  timeoutMs: number;
  logDir: string;
}): Promise<RunningGateway> {
  hookExit();
  const logFile = join(opts.logDir, `${opts.name}.log`);
  const fd = openSync(logFile, 'w');
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  for (const k of opts.unsetEnv ?? []) delete env[k];
  const child = spawn(opts.cmd, opts.args, {
    cwd: opts.cwd ?? opts.logDir,
    env,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  live.add(child);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve(`exited with ${signal ?? `code ${code}`}`);
    });
    child.once('error', (err) => {
      live.delete(child);
      resolve(`could not be started: ${err.message}`);
    });
  });
  let exitReason: string | undefined;
  void exited.then((r) => {
    exitReason = r;
  });
  const baseUrl = `http://127.0.0.1:${opts.port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || exitReason !== undefined) return;
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (exitReason !== undefined) throw new Error(`${opts.name} ${exitReason} before it answered: ${tail(logFile)}`);
    try {
      const res = await fetch(`${baseUrl}${opts.readyPath}`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${opts.name} did not answer on ${baseUrl} within ${opts.timeoutMs / 1000} s: ${tail(logFile)}`);
    }
    await sleep(200);
  }
  return { pid: child.pid ?? -1, baseUrl, version: opts.version, logFile, stop };
}

/** Runs a command to completion with a time limit; the error says what failed and its last output lines. */
function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs: number; env?: Record<string, string> }): string {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    timeout: opts.timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (r.error) throw new Error(`\`${cmd} ${args.join(' ')}\` failed: ${r.error.message}`);
  if (r.status !== 0) {
    const last = out.split('\n').filter((l) => l.trim() !== '').slice(-4).join(' | ');
    throw new Error(`\`${cmd} ${args.join(' ')}\` exited with ${r.status ?? r.signal}: ${last}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Process-tree figures from /proc (Linux): a gateway may fork workers, and all of it counts.

function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // Gone, or no /proc.
  }
  return out;
}

function tree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...children(all[i] as number));
  return all;
}

/** Resident set size of `pid` and its descendants, in bytes (NaN without /proc). */
export function treeRss(pid: number): number {
  let sum = 0;
  let seen = false;
  for (const p of tree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) {
        sum += Number(m[1]) * 1024;
        seen = true;
      }
    } catch {
      // Exited between listing and reading.
    }
  }
  return seen ? sum : Number.NaN;
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    clockTicks = Number(r.stdout.trim()) || 100;
  }
  return clockTicks;
}

/** CPU time (user + system) of `pid` and its descendants so far, in ms (NaN without /proc). */
export function treeCpuMs(pid: number): number {
  let ticks = 0;
  let seen = false;
  for (const p of tree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // Fields after the command name, which may contain spaces, closed by the last ')'.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
      seen = true;
    } catch {
      // Exited.
    }
  }
  return seen ? (ticks * 1000) / ticksPerSecond() : Number.NaN;
}

// ---------------------------------------------------------------------------------------------
// The gateways

/** A started gateway with the endpoints the benchmark sends to. */
export interface StartedGateway {
  gateway: RunningGateway;
  /** Chat endpoints by front end. */
  targets: Partial<Record<'ollama' | 'openai', GatewayTarget>>;
}

/** A fresh temporary directory for one gateway's config and log. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(os.tmpdir(), `omega-bench-${prefix}-`));
}

/**
 * `omega serve` from this checkout's build, or from the CLI entry `main` of another build
 * (`--omega-dist`). Until the server exists, `serve --help` fails and the row says so.
 */
export async function startOmega(upstream: string, logDir: string, main = join(ROOT, 'dist/cli/main.js')): Promise<StartedGateway | Unavailable> {
  if (!existsSync(main)) return { unavailable: `${main} is missing (run \`npm run build\`)` };
  const help = spawnSync(process.execPath, [main, 'serve', '--help'], { encoding: 'utf8', timeout: 30_000 });
  // Without a serve command, commander answers `serve --help` with the top-level help and exit 0.
  if (help.status !== 0 || !/Usage: omega serve\b/.test(help.stdout ?? '')) {
    const why =
      help.status !== 0
        ? `exited with ${help.status ?? help.signal}: ${`${help.stderr ?? ''}${help.stdout ?? ''}`.trim().split('\n')[0] ?? ''}`
        : 'printed the top-level help, which lists no serve command';
    return { unavailable: `\`omega serve\` is not a command of this build (\`node ${main} serve --help\` ${why})` };
  }
  return startOmegaServe('omega', ['[provider.ollama]', `base_url = ${JSON.stringify(upstream)}`, ''], logDir, main);
}

/**
 * `omega serve` from the CLI entry `main`, with a config of its own in `logDir` whose Ollama part
 * is `ollamaToml` (a `base_url`, or a fleet's hosts); `name` names the process and its files.
 */
export async function startOmegaServe(name: string, ollamaToml: string[], logDir: string, main: string): Promise<StartedGateway | Unavailable> {
  if (!existsSync(main)) return { unavailable: `${main} is missing (run \`npm run build\`)` };
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const port = await freePort();
  const config = join(logDir, `${name}.toml`);
  writeFileSync(
    config,
    [
      '# Written by the benchmark: the Ollama servers are synthetic; data in a temporary directory.',
      '[omega]',
      `data_dir = ${JSON.stringify(join(logDir, `${name}-data`))}`,
      'log_level = "warn"',
      '',
      '[provider]',
      'default = "ollama"',
      '',
      ...ollamaToml,
    ].join('\n'),
  );
  try {
    const gateway = await startProcess({
      name,
      cmd: process.execPath,
      args: [main, 'serve', '--listen', `127.0.0.1:${port}`, '--config', config],
      port,
      readyPath: '/',
      version,
      timeoutMs: 30_000,
      logDir,
    });
    return {
      gateway,
      targets: {
        ollama: { url: `${gateway.baseUrl}/api/chat`, protocol: 'ollama', headers: {} },
        openai: { url: `${gateway.baseUrl}/v1/chat/completions`, protocol: 'openai', headers: {} },
      },
    };
  } catch (err) {
    return { unavailable: err instanceof Error ? err.message : String(err) };
  }
}

/** Installs LiteLLM's proxy into a virtualenv under .cache/bench/litellm (once); returns the `litellm` executable. */
export function installLitellm(progress: (msg: string) => void): string {
  const dir = join(CACHE_DIR, 'litellm');
  const venv = join(dir, 'venv');
  const bin = join(venv, 'bin/litellm');
  const marker = join(dir, `installed-${LITELLM_VERSION}`);
  if (existsSync(bin) && existsSync(marker)) return bin;
  mkdirSync(dir, { recursive: true });
  const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  if (python.error || python.status !== 0) throw new Error(`python3 is not available: ${python.error?.message ?? python.stderr}`);
  progress(`installing litellm[proxy]==${LITELLM_VERSION} into ${venv} (once; a few minutes)`);
  if (!existsSync(join(venv, 'bin/pip'))) run('python3', ['-m', 'venv', venv], { timeoutMs: 120_000 });
  run(join(venv, 'bin/pip'), ['install', '--disable-pip-version-check', '--quiet', `litellm[proxy]==${LITELLM_VERSION}`], {
    timeoutMs: 20 * 60_000,
  });
  if (!existsSync(bin)) throw new Error(`pip installed litellm but ${bin} is missing`);
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return bin;
}

/**
 * LiteLLM's proxy with one `ollama_chat/` deployment per benchmark model (so upstream it calls
 * the synthetic server's native `/api/chat`), one worker, no database.
 */
export async function startLitellm(
  /** One `model_list` entry each: the model name clients ask for and the Ollama server behind it. */
  deployments: { model: string; upstream: string }[],
  logDir: string,
  progress: (msg: string) => void,
  /** A Router strategy (`least-busy`, ...) for a model listed more than once; LiteLLM's default otherwise. */
  routingStrategy?: string,
): Promise<StartedGateway | Unavailable> {
  let bin: string;
  try {
    bin = installLitellm(progress);
  } catch (err) {
    return { unavailable: `LiteLLM could not be installed: ${err instanceof Error ? err.message : String(err)}` };
  }
  const port = await freePort();
  const config = join(logDir, 'litellm.yaml');
  const lines = ['model_list:'];
  for (const d of deployments) {
    lines.push(`  - model_name: ${JSON.stringify(d.model)}`, '    litellm_params:', `      model: ${JSON.stringify(`ollama_chat/${d.model}`)}`, `      api_base: ${JSON.stringify(d.upstream)}`);
  }
  if (routingStrategy !== undefined) lines.push('router_settings:', `  routing_strategy: ${routingStrategy}`);
  lines.push('litellm_settings:', '  telemetry: false', '  drop_params: true', '');
  writeFileSync(config, lines.join('\n'));
  // The proxy refuses to run without a master key; a random one, sent back as the bearer token.
  const key = `sk-bench-${randomBytes(12).toString('hex')}`;
  try {
    const gateway = await startProcess({
      name: 'litellm',
      cmd: bin,
      args: ['--config', config, '--host', '127.0.0.1', '--port', String(port), '--num_workers', '1'],
      env: {
        LITELLM_MASTER_KEY: key,
        LITELLM_LOG: 'ERROR',
        LITELLM_TELEMETRY: 'False',
        // The synthetic streams repeat short tokens; LiteLLM's loop guard would cut them.
        REPEATED_STREAMING_CHUNK_LIMIT: '1000000000',
        // No database, no network lookups of the model cost map.
        LITELLM_LOCAL_MODEL_COST_MAP: 'True',
        NO_PROXY: '127.0.0.1,localhost',
      },
      // No database: LiteLLM would try to use one named in the environment.
      unsetEnv: ['DATABASE_URL', 'DIRECT_URL'],
      port,
      readyPath: '/health/liveliness',
      version: LITELLM_VERSION,
      timeoutMs: 120_000,
      logDir,
    });
    return {
      gateway,
      targets: { openai: { url: `${gateway.baseUrl}/chat/completions`, protocol: 'openai', headers: { authorization: `Bearer ${key}` } } },
    };
  } catch (err) {
    return { unavailable: err instanceof Error ? err.message : String(err) };
  }
}

/** Installs Portkey's gateway into .cache/bench/portkey (once); returns its start script. */
export function installPortkey(progress: (msg: string) => void): string {
  const dir = join(CACHE_DIR, 'portkey');
  const script = join(dir, 'node_modules/@portkey-ai/gateway/build/start-server.js');
  const manifest = {
    name: 'omega-bench-portkey',
    private: true,
    description: 'Installed by the Omega gateway benchmark (bench/peers.ts).',
    dependencies: { '@portkey-ai/gateway': PORTKEY_VERSION },
    overrides: PORTKEY_OVERRIDES,
  };
  const wanted = `${JSON.stringify(manifest, null, 2)}\n`;
  const pkgFile = join(dir, 'package.json');
  const marker = join(dir, `installed-${PORTKEY_VERSION}`);
  if (existsSync(script) && existsSync(marker) && existsSync(pkgFile) && readFileSync(pkgFile, 'utf8') === wanted) return script;
  progress(`installing @portkey-ai/gateway@${PORTKEY_VERSION} into ${dir} (once)`);
  rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
  rmSync(join(dir, 'package-lock.json'), { force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(pkgFile, wanted);
  // --ignore-scripts: its only install script runs patch-package, with no patches in the package.
  run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: dir, timeoutMs: 10 * 60_000 });
  if (!existsSync(script)) throw new Error(`npm installed @portkey-ai/gateway but ${script} is missing`);
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return script;
}

/**
 * Portkey's gateway (Node), with its Ollama provider pointed at the synthetic server through
 * its routing headers. It binds every interface by itself; a preload makes it bind loopback.
 */
export async function startPortkey(upstream: string, logDir: string, progress: (msg: string) => void): Promise<StartedGateway | Unavailable> {
  let script: string;
  try {
    script = installPortkey(progress);
  } catch (err) {
    return { unavailable: `Portkey could not be installed: ${err instanceof Error ? err.message : String(err)}` };
  }
  const port = await freePort();
  const preload = join(logDir, 'loopback.mjs');
  writeFileSync(
    preload,
    [
      '// Written by the gateway benchmark: a listen() without a host binds 127.0.0.1 instead of every interface.',
      "import net from 'node:net';",
      'const listen = net.Server.prototype.listen;',
      'net.Server.prototype.listen = function (...args) {',
      "  if (typeof args[0] === 'number' && typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1');",
      "  else if (args[0] && typeof args[0] === 'object' && args[0].port !== undefined && args[0].host === undefined) args[0] = { ...args[0], host: '127.0.0.1' };",
      '  return listen.apply(this, args);',
      '};',
      '',
    ].join('\n'),
  );
  try {
    const gateway = await startProcess({
      name: 'portkey',
      cmd: process.execPath,
      args: ['--import', preload, script, `--port=${port}`, '--headless'],
      env: { NODE_ENV: 'production' },
      port,
      readyPath: '/',
      version: PORTKEY_VERSION,
      timeoutMs: 60_000,
      logDir,
    });
    return {
      gateway,
      targets: {
        openai: {
          url: `${gateway.baseUrl}/v1/chat/completions`,
          protocol: 'openai',
          headers: { 'x-portkey-provider': 'ollama', 'x-portkey-custom-host': upstream },
        },
      },
    };
  } catch (err) {
    return { unavailable: err instanceof Error ? err.message : String(err) };
  }
}
