/**
 * Loading and validating config.toml: find the file, parse it, then read `[omega]`,
 * `[provider]` (each provider through its spec) and `[memory]`. The rest of Omega reads an
 * {@link OmegaConfig} that is complete, typed, `~`-expanded and URL-checked.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { ConfigError, redactSecrets } from '../core/errors.js';
import { LOG_LEVELS } from '../core/logger.js';
import { SERVER_SCHEMA, parseServerSection } from './server.js';
import type { LogLevel } from '../core/logger.js';
import { PROVIDER_SPECS } from '../providers/registry.js';
import { providersOf } from './providers.js';
import { Reader } from './reader.js';
import { schemaKeys, warnUnknownIn, warnUnknownKeys } from './schema.js';
import type { TableSchema } from './schema.js';
import { configSearchPaths, fileKind } from './search.js';
import type { LoadConfigOptions } from './search.js';
import { collectSecrets, envSecrets } from './secrets.js';
import { Section } from './section.js';
import type { Table } from './toml.js';
import type { LoadedConfig, MemoryConfig, OmegaConfig, OmegaSection } from './types.js';
import { DEFAULT_ANSWER_RESERVE, DEFAULT_MEMORY_POOL_SIZE, DEFAULT_STATEMENT_TIMEOUT_MS } from './types.js';
import { shownUrl } from './url.js';

export { configSearchPaths, expandHome } from './search.js';
export type { ConfigCandidate, ConfigSource, LoadConfigOptions } from './search.js';
export {
  API_PROVIDER_DEFAULTS,
  CLAUDE_CODE_DEFAULTS,
  DEFAULT_API_TIMEOUTS,
  DEFAULT_OLLAMA_MODEL,
  DEFAULT_TIMEOUTS,
} from './defaults.js';
export type { ApiProviderName } from './defaults.js';

/** The system prompt used when `[omega] system_prompt` is unset. */
export const DEFAULT_SYSTEM_PROMPT = 'You are Omega, a helpful assistant. Answer clearly and concisely.';

/** Extra inputs of {@link parseConfig} and {@link defaultConfig}. */
export interface ParseConfigOptions {
  /** Home directory for `~`; defaults to `os.homedir()`. */
  home?: string;
  /** Base of relative paths when there is no file; defaults to `process.cwd()`. */
  cwd?: string;
}

const OMEGA_SCHEMA: TableSchema = { name: 'string', data_dir: 'path', log_level: 'string', system_prompt: 'string' };
const MEMORY_SCHEMA: TableSchema = {
  backend: 'string',
  db_path: 'path',
  max_context_messages: 'integer',
  answer_reserve: 'integer',
  url: 'string',
  pool_size: 'integer',
  statement_timeout: 'seconds',
};

/**
 * Every key config.toml accepts, as dotted paths (`provider.ollama.timeouts.connect`), for
 * documentation checks and tooling. Ollama's `options` table also passes other keys through.
 */
export const KNOWN_CONFIG_KEYS: readonly string[] = Object.freeze([
  ...schemaKeys('omega', OMEGA_SCHEMA),
  'provider.default',
  'provider.fallback',
  ...PROVIDER_SPECS.flatMap((spec) => schemaKeys(spec.configSection, spec.keys)),
  ...schemaKeys('memory', MEMORY_SCHEMA),
  ...schemaKeys('server', SERVER_SCHEMA),
]);

/**
 * Finds, reads and validates the configuration. Without any config file Omega runs
 * zero-config: Ollama is the default provider, enabled, at `OLLAMA_HOST` or localhost.
 *
 * @throws ConfigError for a missing explicit file (`opts.path` or `$OMEGA_CONFIG`), an unreadable
 *   file, a TOML syntax error, a wrong type, an unknown provider, an invalid URL, or a disabled
 *   default provider.
 */
export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const home = opts.home ?? homedir();
  for (const candidate of configSearchPaths({ ...opts, env, cwd, home })) {
    const kind = fileKind(candidate.path);
    if (kind === 'file') return parseConfig(readConfigFile(candidate.path), candidate.path, env, { home, cwd });
    if (candidate.source === 'option' || candidate.source === 'env') {
      const what = kind === 'directory' ? 'is a directory, not a file' : 'does not exist';
      const message =
        candidate.source === 'env'
          ? `OMEGA_CONFIG points to ${candidate.path}, which ${what}; fix or unset OMEGA_CONFIG.`
          : `The config file ${candidate.path} ${what}; check the path, or create it with \`omega init\`.`;
      throw new ConfigError({
        file: candidate.path,
        key: candidate.source === 'env' ? 'OMEGA_CONFIG' : undefined,
        message,
      });
    }
  }
  return { config: defaultConfig(env, { home, cwd }), warnings: [] };
}

function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'an I/O error';
    throw new ConfigError({ file: path, message: `Cannot read the config file ${path} (${code}); check its permissions.`, cause });
  }
}

/**
 * The configuration Omega uses with no config file: Ollama enabled as the default provider
 * (at `OLLAMA_HOST` when set), hosted providers disabled, API keys taken from the environment.
 */
export function defaultConfig(env: NodeJS.ProcessEnv = process.env, opts: ParseConfigOptions = {}): OmegaConfig {
  return build({}, new Reader('', undefined, secretsOf(env)), env, opts).config;
}

/**
 * Validates TOML text as an Omega config. `file` is used for messages and as the base of
 * relative paths. Unknown keys become warnings; everything else wrong is a {@link ConfigError}.
 */
export function parseConfig(
  text: string,
  file?: string,
  env: NodeJS.ProcessEnv = process.env,
  opts: ParseConfigOptions = {},
): LoadedConfig {
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const secrets = secretsOf(env);
  let doc: Table;
  try {
    doc = parseToml(source, { unsafeKeyBehaviour: 'throw' });
  } catch (error) {
    if (error instanceof TomlError) {
      // Only the reason line: smol-toml's message quotes the offending source line, which may hold a key.
      const reason = error.message.replace(/^Invalid TOML document: /, '').split('\n')[0] ?? 'invalid TOML';
      const where = file === undefined ? `line ${error.line}, column ${error.column}` : `${file}:${error.line}:${error.column}`;
      throw new ConfigError({
        file,
        line: error.line,
        column: error.column,
        expected: 'valid TOML',
        message: redactSecrets(`TOML syntax error at ${where}: ${reason}; fix the syntax on that line.`, secrets),
      });
    }
    throw error;
  }
  collectSecrets(doc, secrets);
  return build(doc, new Reader(source, file, secrets), env, opts);
}

/** The values of every spec's secret environment variables. */
function secretsOf(env: NodeJS.ProcessEnv): string[] {
  return envSecrets(env, [...PROVIDER_SPECS.flatMap((spec) => spec.secretEnv), 'PGPASSWORD']);
}

function build(doc: Table, reader: Reader, env: NodeJS.ProcessEnv, opts: ParseConfigOptions): LoadedConfig {
  const home = opts.home ?? homedir();
  // Relative paths in a file are relative to that file, so a config means the same from any cwd.
  const base = reader.file !== undefined ? dirname(resolve(reader.file)) : (opts.cwd ?? process.cwd());
  const root = new Section(reader, [], doc);
  warnUnknownIn(root, ['omega', 'provider', 'memory', 'server'], 'valid top-level tables');
  const omega = omegaOf(Section.of(reader, root, 'omega'), base, home);
  const provider = providersOf(root, env);
  const memory = memoryOf(Section.of(reader, root, 'memory'), omega, base, home);
  const server = parseServerSection(doc.server, { ...(reader.file === undefined ? {} : { file: reader.file }), env, home, readTokens: false });
  const loaded: LoadedConfig = { config: { omega, provider, memory, server }, warnings: reader.warnings };
  if (reader.file !== undefined) loaded.file = reader.file;
  return loaded;
}

function omegaOf(section: Section, base: string, home: string): OmegaSection {
  warnUnknownKeys(section, OMEGA_SCHEMA);
  return {
    name: section.string('name', 'Omega', { nonEmpty: true }),
    dataDir: section.filePath('data_dir', '~/.omega', base, home),
    logLevel: section.oneOf<LogLevel>('log_level', 'info', LOG_LEVELS),
    systemPrompt: section.string('system_prompt', DEFAULT_SYSTEM_PROMPT),
  };
}

function memoryOf(section: Section, omega: OmegaSection, base: string, home: string): MemoryConfig {
  warnUnknownKeys(section, MEMORY_SCHEMA);
  return {
    backend: section.oneOf('backend', 'sqlite', ['sqlite', 'postgres'] as const),
    dbPath: section.has('db_path') ? section.filePath('db_path', '', base, home) : join(omega.dataDir, 'data', 'memory.db'),
    maxContextMessages: section.number('max_context_messages', 50, {
      integer: true,
      min: 0,
      expected: 'a whole number, 0 or more',
    }),
    answerReserve: section.number('answer_reserve', DEFAULT_ANSWER_RESERVE, {
      integer: true,
      min: 0,
      expected: 'a whole number of tokens, 0 or more',
    }),
    ...postgresOf(section),
  };
}

/** Durations like "500ms", "5s" or "1m" for `statement_timeout`, besides a plain number of seconds. */
const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m)$/;

/** The PostgreSQL keys of `[memory]`: used when `backend = "postgres"`, checked whatever the backend. */
function postgresOf(section: Section): Pick<MemoryConfig, 'url' | 'poolSize' | 'statementTimeoutMs'> {
  const out: Pick<MemoryConfig, 'url' | 'poolSize' | 'statementTimeoutMs'> = {
    poolSize: section.number('pool_size', DEFAULT_MEMORY_POOL_SIZE, { integer: true, min: 1, max: 1000, expected: 'a whole number of connections, 1 to 1000' }),
    statementTimeoutMs: statementTimeoutOf(section),
  };
  const url = section.optionalString('url');
  if (url !== undefined) {
    if (!/^postgres(ql)?:\/\//i.test(url.trim())) {
      throw section.error(
        'url',
        `memory.url in ${section.where('url')} must be a postgres:// or postgresql:// URL, but ${shownUrl(url)} is not; write it like postgres://omega@db.example:5432/omega.`,
        { expected: 'a postgres:// URL' },
      );
    }
    out.url = url.trim();
  }
  return out;
}

function statementTimeoutOf(section: Section): number {
  const expected = 'a number of seconds, 0 or more (0 turns the limit off), or a duration such as "500ms" or "5s"';
  const value = section.table.statement_timeout;
  if (typeof value === 'string') {
    const match = DURATION_RE.exec(value.trim());
    if (match === null) {
      throw section.error('statement_timeout', `memory.statement_timeout in ${section.where('statement_timeout')} is "${value}", which is not a duration; write a number of seconds such as 5, or "500ms", "5s", "1m".`, {
        expected,
      });
    }
    const n = Number(match[1]);
    return Math.round(match[2] === 'ms' ? n : match[2] === 's' ? n * 1000 : n * 60_000);
  }
  return Math.round(section.number('statement_timeout', DEFAULT_STATEMENT_TIMEOUT_MS / 1000, { min: 0, expected }) * 1000);
}
