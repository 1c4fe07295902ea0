/**
 * The `[server]` section of config.toml, read for `omega serve`.
 *
 * The loader calls {@link parseServerSection} for the `[server]` table. Unlike other tables an
 * unknown key here is an error, not a warning: a mistyped security setting must not be ignored.
 * Bearer tokens come only from the environment or a file, never from config.toml itself, and
 * never reach a message.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import type { TableSchema } from './schema.js';

/** Where `omega serve` listens when neither config nor `--listen` says otherwise. */
export const DEFAULT_SERVER_LISTEN = '127.0.0.1:11435';
/** Environment variable holding bearer tokens, separated by commas or whitespace. */
export const SERVER_TOKENS_ENV = 'OMEGA_SERVER_TOKENS';
/** Default request body limit: large enough for a few base64 images. */
export const DEFAULT_BODY_LIMIT_BYTES = 32 * 1024 * 1024;
/** Default time in-flight requests get to finish after SIGTERM/SIGINT. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/** A host and port to listen on. */
export interface ListenAddress {
  /** IPv4/IPv6 literal or host name, without brackets. */
  host: string;
  port: number;
}

/** `[server]`, after validation. */
export interface ServerConfig {
  listen: ListenAddress;
  /** Accepted bearer tokens; empty means no authentication. Never logged. */
  tokens: string[];
  /** Where the tokens came from, for messages that must not show them. */
  tokensSource: 'none' | 'env' | 'file';
  /** `tokens_file`, resolved; read by {@link readServerTokens} when the server starts. */
  tokensFile?: string;
  /** Origins allowed by CORS; empty turns CORS off. `*` allows any origin. */
  corsOrigins: string[];
  bodyLimitBytes: number;
  drainTimeoutMs: number;
  /** Model names a tool insists on, mapped to `provider/model` or a bare model. */
  aliases: Record<string, string>;
}

/** Every key `[server]` accepts (for docs and typo checks). */
export const SERVER_KEYS = ['listen', 'tokens_file', 'cors_origins', 'body_limit_mb', 'drain_timeout', 'aliases'] as const;

/** `[server]` in the loader's schema terms, for `KNOWN_CONFIG_KEYS` (`[server.aliases]` takes any name). */
export const SERVER_SCHEMA: TableSchema = Object.freeze({
  listen: 'string',
  tokens_file: 'path',
  cors_origins: 'strings',
  body_limit_mb: 'number',
  drain_timeout: 'seconds',
  aliases: Object.freeze({ table: Object.freeze({}), open: true }),
});

/** Context of {@link parseServerSection}. */
export interface ServerSectionOptions {
  /** The config file, named in messages and the base of a relative `tokens_file`. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  home?: string;
  /**
   * Read the tokens now (default). The config loader passes `false`: every command loads the
   * config, and only `omega serve` needs the token file, so a missing one fails only there.
   */
  readTokens?: boolean;
}

function where(file: string | undefined): string {
  return file === undefined ? 'the configuration' : file;
}

function fail(key: string, message: string, opts: ServerSectionOptions, expected?: string): ConfigError {
  return new ConfigError({
    message,
    key: `server.${key}`,
    ...(opts.file === undefined ? {} : { file: opts.file }),
    ...(expected === undefined ? {} : { expected }),
  });
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'a table';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  return `a ${typeof value}`;
}

/**
 * Parses `host:port` (`[::1]:8080`, `0.0.0.0:11435`, `:11435` for all interfaces is refused:
 * say `0.0.0.0` so that leaving loopback is explicit). Throws a ConfigError naming `key`.
 */
export function parseListen(text: string, key = 'server.listen', file?: string): ListenAddress {
  const value = text.trim();
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(value);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError({
      message: `${key} must be host:port such as ${DEFAULT_SERVER_LISTEN}, but ${where(file)} gives "${value}".`,
      key,
      expected: 'host:port',
      ...(file === undefined ? {} : { file }),
    });
  }
  return { host: (m[1] ?? m[2]) as string, port };
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** Tokens from a text: one per line or separated by commas/whitespace; `#` starts a comment line. */
export function splitTokens(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .join(' ')
    .split(/[\s,]+/)
    .filter((t) => t !== '');
}

/** Validates the `[server]` table (`undefined` when absent) and applies every default. */
export function parseServerSection(table: unknown, opts: ServerSectionOptions = {}): ServerConfig {
  const t: Record<string, unknown> = table === undefined ? {} : (table as Record<string, unknown>);
  if (typeof table !== 'undefined' && (typeof table !== 'object' || table === null || Array.isArray(table))) {
    throw fail('', `[server] in ${where(opts.file)} must be a table, not ${describe(table)}.`, opts, 'a table');
  }
  for (const key of Object.keys(t)) {
    if (key === 'tokens') {
      throw fail(
        'tokens',
        `server.tokens in ${where(opts.file)} would keep secrets in the config file; put the tokens in ${SERVER_TOKENS_ENV} or in a file named by server.tokens_file.`,
        opts,
      );
    }
    if (!(SERVER_KEYS as readonly string[]).includes(key)) {
      throw fail(key, `Unknown key server.${key} in ${where(opts.file)}; valid keys are ${SERVER_KEYS.join(', ')}.`, opts);
    }
  }

  let listen = parseListen(DEFAULT_SERVER_LISTEN);
  if (t.listen !== undefined) {
    if (typeof t.listen !== 'string') throw fail('listen', `server.listen must be a "host:port" string, not ${describe(t.listen)}.`, opts, 'host:port');
    listen = parseListen(t.listen, 'server.listen', opts.file);
  }

  let tokensFile: string | undefined;
  if (t.tokens_file !== undefined) {
    if (typeof t.tokens_file !== 'string' || t.tokens_file.trim() === '') {
      throw fail('tokens_file', `server.tokens_file must be a path, not ${describe(t.tokens_file)}.`, opts, 'a file path');
    }
    const home = opts.home ?? homedir();
    const raw = t.tokens_file.trim();
    const expanded = raw === '~' ? home : raw.startsWith('~/') ? home + raw.slice(1) : raw;
    tokensFile = resolve(opts.file === undefined ? process.cwd() : dirname(resolve(opts.file)), expanded);
  }

  let corsOrigins: string[] = [];
  if (t.cors_origins !== undefined) {
    if (!Array.isArray(t.cors_origins) || t.cors_origins.some((o) => typeof o !== 'string' || o.trim() === '')) {
      throw fail('cors_origins', `server.cors_origins must be an array of origins such as ["http://localhost:3000"].`, opts, 'an array of strings');
    }
    corsOrigins = (t.cors_origins as string[]).map((o) => o.trim().replace(/\/+$/, ''));
  }

  const number = (key: string, fallback: number, min: number, unit: string): number => {
    const v = t[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
      throw fail(key, `server.${key} must be a number of ${unit}, ${min} or more, not ${describe(v)}.`, opts, `a number of ${unit}`);
    }
    return v;
  };
  const bodyLimitBytes = Math.round(number('body_limit_mb', DEFAULT_BODY_LIMIT_BYTES / (1024 * 1024), 0.001, 'MiB') * 1024 * 1024);
  const drainTimeoutMs = Math.round(number('drain_timeout', DEFAULT_DRAIN_TIMEOUT_MS / 1000, 0, 'seconds') * 1000);

  const aliases: Record<string, string> = {};
  if (t.aliases !== undefined) {
    if (typeof t.aliases !== 'object' || t.aliases === null || Array.isArray(t.aliases)) {
      throw fail('aliases', `[server.aliases] must be a table of "name" = "provider/model".`, opts, 'a table');
    }
    for (const [name, target] of Object.entries(t.aliases as Record<string, unknown>)) {
      if (typeof target !== 'string' || target.trim() === '') {
        throw fail(`aliases.${name}`, `server.aliases."${name}" must be a model name such as "ollama/llama3.2".`, opts, 'a string');
      }
      aliases[name] = target.trim();
    }
  }

  const config: ServerConfig = { listen, tokens: [], tokensSource: 'none', corsOrigins, bodyLimitBytes, drainTimeoutMs, aliases };
  if (tokensFile !== undefined) config.tokensFile = tokensFile;
  return opts.readTokens === false ? config : readServerTokens(config, opts);
}

/**
 * The section with its tokens: those in `tokensFile`, then those in `OMEGA_SERVER_TOKENS`.
 * @throws ConfigError for an unreadable file or a token under 8 characters (never showing one).
 */
export function readServerTokens(server: ServerConfig, opts: Pick<ServerSectionOptions, 'file' | 'env'> = {}): ServerConfig {
  const env = opts.env ?? process.env;
  let tokens: string[] = [];
  let tokensSource: ServerConfig['tokensSource'] = 'none';
  if (server.tokensFile !== undefined) {
    const path = server.tokensFile;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? 'an I/O error';
      throw new ConfigError({
        message: `Cannot read the server token file ${path} (${code}); create it with one token per line or fix server.tokens_file.`,
        key: 'server.tokens_file',
        ...(opts.file === undefined ? {} : { file: opts.file }),
        cause,
      });
    }
    tokens = splitTokens(text);
    tokensSource = 'file';
  }
  const fromEnv = env[SERVER_TOKENS_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    tokens = [...tokens, ...splitTokens(fromEnv)];
    tokensSource = tokensSource === 'none' ? 'env' : tokensSource;
  }
  if (tokens.some((tok) => tok.length < 8)) {
    throw new ConfigError({
      message: `A server token from ${tokensSource === 'file' ? 'server.tokens_file' : SERVER_TOKENS_ENV} is shorter than 8 characters; use long random tokens (e.g. \`openssl rand -hex 24\`).`,
      key: tokensSource === 'file' ? 'server.tokens_file' : SERVER_TOKENS_ENV,
      ...(opts.file === undefined ? {} : { file: opts.file }),
    });
  }
  return { ...server, tokens, tokensSource };
}
