/**
 * What every command shares: the streams, the loaded configuration, the logger, and
 * Ctrl-C handling.
 */
import { fstatSync } from 'node:fs';
import { homedir } from 'node:os';
import { loadConfig } from '../config/load.js';
import type { LoadedConfig, OmegaConfig } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import { Gateway } from '../gateway/gateway.js';
import { InterruptedError, configLocation, withPeriod } from './errors.js';
import { cliLogLevel, createCliLogger } from './logger.js';
import { createStyle, type OutStream, type Style } from './output.js';

/** The process surroundings a command runs in; tests and the real process fill it differently. */
export interface CliIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  stdout: OutStream;
  stderr: OutStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  home: string;
  /**
   * True when stdin is a pipe or a file (`echo hi | omega ask`, `< file`), as opposed to a
   * terminal, /dev/null or an inherited socket nobody writes to. Only then is stdin read
   * in addition to a prompt given as arguments, so `omega ask "..."` never hangs waiting.
   */
  stdinPiped: boolean;
}

function stdinIsPipeOrFile(): boolean {
  try {
    const stat = fstatSync(0);
    return stat.isFIFO() || stat.isFile();
  } catch {
    return false;
  }
}

/** The {@link CliIO} of the running process. */
export function processIO(): CliIO {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    home: homedir(),
    stdinPiped: process.stdin.isTTY !== true && stdinIsPipeOrFile(),
  };
}

/** How long a cancelled operation may take to wind down before the process exits anyway. */
const INTERRUPT_GRACE_MS = 3000;

/** Options every command accepts. */
export interface GlobalOptions {
  config?: string;
  verbose?: boolean;
}

/** Shared state of one CLI invocation. */
export class CliContext {
  readonly io: CliIO;
  /** Colours for stdout. */
  readonly out: Style;
  /** Colours for stderr. */
  readonly err: Style;
  /** The exit code once the command has finished without throwing. */
  exitCode = 0;
  /** `--verbose`: debug logs, stats and stacks. */
  verbose = false;
  /** `--config FILE`, as given. */
  configPath: string | undefined;
  /** Human-readable logger on stderr; replaced once the config is loaded. */
  logger: Logger;
  private loaded: LoadedConfig | undefined;

  constructor(io: CliIO) {
    this.io = io;
    this.out = createStyle(io.stdout, io.env);
    this.err = createStyle(io.stderr, io.env);
    this.logger = createCliLogger({ level: cliLogLevel(undefined, false), stream: io.stderr, style: this.err });
  }

  /** Applies `--config` and `--verbose`. */
  configure(options: GlobalOptions): void {
    this.verbose = options.verbose === true;
    this.configPath = options.config;
    this.logger = createCliLogger({ level: cliLogLevel(undefined, this.verbose), stream: this.io.stderr, style: this.err });
  }

  /**
   * Loads the configuration (once), prints its warnings to stderr, and sets up the logger
   * at the configured level. A bad config throws a ConfigError before any command work.
   */
  loadConfig(): LoadedConfig {
    if (this.loaded !== undefined) return this.loaded;
    const loaded = loadConfig({
      ...(this.configPath !== undefined ? { path: this.configPath } : {}),
      env: this.io.env,
      cwd: this.io.cwd,
      home: this.io.home,
    });
    this.loaded = loaded;
    this.logger = createCliLogger({
      level: cliLogLevel(loaded.config.omega.logLevel, this.verbose),
      stream: this.io.stderr,
      style: this.err,
      secrets: this.secrets(),
    });
    for (const warning of loaded.warnings) {
      const where = configLocation(warning.message, { file: warning.file ?? loaded.file, line: warning.line, key: warning.key });
      this.io.stderr.write(`omega: ${this.err.yellow('warning')}: ${withPeriod(warning.message.replace(/\.$/, '') + where)}\n`);
    }
    this.logger.debug({ file: loaded.file ?? 'none (defaults)' }, 'configuration loaded');
    return loaded;
  }

  /** The loaded configuration. */
  get config(): OmegaConfig {
    return this.loadConfig().config;
  }

  /** The config file in use, or undefined when running on defaults. */
  get configFile(): string | undefined {
    return this.loadConfig().file;
  }

  /** API keys from the configuration: never to be printed. */
  secrets(): string[] {
    const config = this.loaded?.config;
    if (config === undefined) return [];
    const p = config.provider;
    const keys = [p.anthropic.apiKey, p.openai.apiKey, p.openrouter.apiKey];
    // The PostgreSQL memory's password: in [memory] url or PGPASSWORD.
    keys.push(this.io.env.PGPASSWORD, memoryUrlPassword(config.memory.url));
    return keys.filter((k): k is string => typeof k === 'string' && k !== '');
  }

  /**
   * A gateway over the loaded config, with the memory backend `[memory] backend` names
   * (connected and migrated); with `memory: false` nothing is stored or audited.
   */
  async openGateway(options: { memory: boolean }): Promise<Gateway> {
    const file = this.configFile;
    return Gateway.connect(this.config, {
      logger: this.logger,
      memory: options.memory,
      ...(file === undefined ? {} : { configFile: file }),
    });
  }

  /** Writes `text` to stdout. */
  print(text: string): void {
    this.io.stdout.write(text);
  }

  /** Writes one `omega: warning: ...` line to stderr. */
  warn(message: string): void {
    this.io.stderr.write(`omega: ${this.err.yellow('warning')}: ${message}\n`);
  }

  /**
   * Runs `fn` with a signal that Ctrl-C aborts. After an interruption the result is an
   * {@link InterruptedError} (exit 130) whatever `fn` threw; a second Ctrl-C, or a
   * cancellation that does not finish within a few seconds, ends the process at once.
   */
  async interruptible<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let presses = 0;
    const onSigint = (): void => {
      presses += 1;
      if (presses > 1) process.exit(130);
      this.logger.debug('interrupted; cancelling');
      controller.abort(new InterruptedError());
      setTimeout(() => process.exit(130), INTERRUPT_GRACE_MS).unref();
    };
    process.on('SIGINT', onSigint);
    try {
      const result = await fn(controller.signal);
      if (controller.signal.aborted) throw new InterruptedError();
      return result;
    } catch (error) {
      if (controller.signal.aborted) throw new InterruptedError();
      throw error;
    } finally {
      process.off('SIGINT', onSigint);
    }
  }
}

/** The password in a `postgres://user:password@host/db` URL, if any. */
function memoryUrlPassword(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const password = new URL(url).password;
    return password === '' ? undefined : decodeURIComponent(password);
  } catch {
    return /^[a-z][a-z0-9+.-]*:\/\/[^:/@]*:([^@/]+)@/i.exec(url)?.[1];
  }
}
