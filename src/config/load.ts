/**
 * Loading and validating config.toml. Every default lives here; the rest of Omega reads an
 * {@link OmegaConfig} that is complete, typed, `~`-expanded and URL-checked.
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { ConfigError, redactSecrets } from '../core/errors.js';
import { LOG_LEVELS } from '../core/logger.js';
import type { LogLevel } from '../core/logger.js';
import type { GenerationOptions, Timeouts } from '../core/types.js';
import { DEFAULT_OLLAMA_URL, parseOllamaHost } from './ollama-host.js';
import { PROVIDER_NAMES } from './types.js';
import type {
  ApiProviderConfig,
  ClaudeCodeConfig,
  ConfigWarning,
  LoadedConfig,
  MemoryConfig,
  OllamaConfig,
  OmegaConfig,
  OmegaSection,
  ProviderName,
} from './types.js';

/** Ollama's phase timeouts when config.toml sets none: a cold model load may take minutes. */
export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  connectMs: 5_000,
  loadMs: 600_000,
  idleMs: 120_000,
  requestMs: 0,
});

/** Phase timeouts of the hosted API providers when config.toml sets none. */
export const DEFAULT_API_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  connectMs: 10_000,
  loadMs: 120_000,
  idleMs: 60_000,
  requestMs: 0,
});

/** Model used by Ollama when config.toml names none. */
export const DEFAULT_OLLAMA_MODEL = 'llama3';

/** The system prompt used when `[omega] system_prompt` is unset. */
export const DEFAULT_SYSTEM_PROMPT = 'You are Omega, a helpful assistant. Answer clearly and concisely.';

/** Names of the hosted providers that take an API key. */
export type ApiProviderName = 'anthropic' | 'openai' | 'openrouter';

/** Defaults of each hosted provider, including the environment variable its key may come from. */
export const API_PROVIDER_DEFAULTS: Readonly<
  Record<ApiProviderName, { baseUrl: string; model: string; apiKeyEnv: string; maxTokens?: number }>
> = Object.freeze({
  anthropic: {
    baseUrl: 'https://api.anthropic.com',
    model: 'claude-sonnet-4-5',
    apiKeyEnv: 'ANTHROPIC_API_KEY',
    // The Messages API refuses a request without max_tokens, so it needs a default.
    maxTokens: 4096,
  },
  openai: { baseUrl: 'https://api.openai.com/v1', model: 'gpt-4o-mini', apiKeyEnv: 'OPENAI_API_KEY' },
  openrouter: { baseUrl: 'https://openrouter.ai/api/v1', model: 'openrouter/auto', apiKeyEnv: 'OPENROUTER_API_KEY' },
});

/** Defaults of `[provider.claude-code]`. */
export const CLAUDE_CODE_DEFAULTS: Readonly<{ command: string; timeoutSecs: number; maxTurns: number }> = Object.freeze({
  command: 'claude',
  timeoutSecs: 300,
  maxTurns: 1,
});

/** Where and how {@link loadConfig} looks; every field defaults to the real process's. */
export interface LoadConfigOptions {
  /** An explicit file (`--config`); it must exist. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** Directory for `./config.toml` and for resolving a relative `path`. */
  cwd?: string;
  /** Home directory for `~` and `~/.omega/config.toml`. */
  home?: string;
}

/** Extra inputs of {@link parseConfig} and {@link defaultConfig}. */
export interface ParseConfigOptions {
  /** Home directory for `~`; defaults to `os.homedir()`. */
  home?: string;
  /** Base of relative paths when there is no file; defaults to `process.cwd()`. */
  cwd?: string;
}

/** Where a candidate config file came from, in search order. */
export type ConfigSource = 'option' | 'env' | 'cwd' | 'home';

/** One place {@link loadConfig} looks for a config file. */
export interface ConfigCandidate {
  path: string;
  source: ConfigSource;
}

/** Expands a leading `~` (alone, or followed by a path separator) to `home`. */
export function expandHome(path: string, home: string = homedir()): string {
  if (path === '~') return home;
  if (path.startsWith('~/') || path.startsWith('~\\')) return join(home, path.slice(2));
  return path;
}

/**
 * The files {@link loadConfig} considers, first match wins: `opts.path`, `$OMEGA_CONFIG`,
 * `./config.toml`, `~/.omega/config.toml`. An explicit `opts.path` is the only candidate.
 */
export function configSearchPaths(opts: LoadConfigOptions = {}): ConfigCandidate[] {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const home = opts.home ?? homedir();
  const absolute = (p: string): string => resolve(cwd, expandHome(p, home));
  if (opts.path !== undefined) return [{ path: absolute(opts.path), source: 'option' }];
  const out: ConfigCandidate[] = [];
  const fromEnv = env.OMEGA_CONFIG?.trim();
  if (fromEnv) out.push({ path: absolute(fromEnv), source: 'env' });
  out.push({ path: resolve(cwd, 'config.toml'), source: 'cwd' });
  out.push({ path: join(home, '.omega', 'config.toml'), source: 'home' });
  return out;
}

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
    if (kind === 'file') {
      let text: string;
      try {
        text = readFileSync(candidate.path, 'utf8');
      } catch (cause) {
        const code = (cause as NodeJS.ErrnoException).code ?? 'an I/O error';
        throw new ConfigError({
          file: candidate.path,
          message: `Cannot read the config file ${candidate.path} (${code}); check its permissions.`,
          cause,
        });
      }
      return parseConfig(text, candidate.path, env, { home, cwd });
    }
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

/**
 * The configuration Omega uses with no config file: Ollama enabled as the default provider
 * (at `OLLAMA_HOST` when set), hosted providers disabled, API keys taken from the environment.
 */
export function defaultConfig(env: NodeJS.ProcessEnv = process.env, opts: ParseConfigOptions = {}): OmegaConfig {
  return build({}, new Reader('', undefined, envSecrets(env)), env, opts).config;
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
  const secrets = envSecrets(env);
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
  const reader = new Reader(source, file, secrets);
  return build(doc, reader, env, opts);
}

// ---------------------------------------------------------------------------------------------

type Table = Record<string, unknown>;

const OMEGA_KEYS = ['name', 'data_dir', 'log_level', 'system_prompt'] as const;
const PROVIDER_KEYS = ['default', 'fallback'] as const;
const OLLAMA_KEYS = ['enabled', 'base_url', 'model', 'keep_alive', 'timeouts', 'options'] as const;
const API_KEYS = ['enabled', 'api_key', 'model', 'base_url', 'timeouts', 'max_tokens'] as const;
/** OpenRouter's optional attribution (sent as `HTTP-Referer` and `X-Title`). */
const OPENROUTER_KEYS = ['app_url', 'app_name'] as const;
const CLAUDE_CODE_KEYS = ['enabled', 'command', 'model', 'timeout_secs', 'max_turns'] as const;
const MEMORY_KEYS = ['backend', 'db_path', 'max_context_messages'] as const;
const TIMEOUT_KEYS = ['connect', 'load', 'idle', 'request'] as const;
const API_PROVIDERS: readonly ApiProviderName[] = ['anthropic', 'openai', 'openrouter'];

/** Ollama 0.9.6 generation/runner options and the type each must have. */
const OLLAMA_OPTION_TYPES: Readonly<Record<string, OptionType>> = {
  temperature: { kind: 'number', min: 0 },
  top_p: { kind: 'number', min: 0, max: 1 },
  min_p: { kind: 'number', min: 0, max: 1 },
  typical_p: { kind: 'number', min: 0, max: 1 },
  top_k: { kind: 'integer', min: 0 },
  seed: { kind: 'integer' },
  num_ctx: { kind: 'integer', min: 1 },
  num_predict: { kind: 'integer' },
  num_keep: { kind: 'integer' },
  repeat_penalty: { kind: 'number' },
  repeat_last_n: { kind: 'integer' },
  presence_penalty: { kind: 'number' },
  frequency_penalty: { kind: 'number' },
  stop: { kind: 'strings' },
  num_batch: { kind: 'integer', min: 1 },
  num_gpu: { kind: 'integer' },
  main_gpu: { kind: 'integer', min: 0 },
  num_thread: { kind: 'integer', min: 0 },
  use_mmap: { kind: 'boolean' },
};

/**
 * Every key config.toml accepts, as dotted paths (`provider.ollama.timeouts.connect`), for
 * documentation checks and tooling. Ollama's `options` table also passes other keys through.
 */
export const KNOWN_CONFIG_KEYS: readonly string[] = Object.freeze([
  ...OMEGA_KEYS.map((k) => `omega.${k}`),
  ...PROVIDER_KEYS.map((k) => `provider.${k}`),
  ...OLLAMA_KEYS.filter((k) => k !== 'timeouts' && k !== 'options').map((k) => `provider.ollama.${k}`),
  ...TIMEOUT_KEYS.map((k) => `provider.ollama.timeouts.${k}`),
  ...Object.keys(OLLAMA_OPTION_TYPES).map((k) => `provider.ollama.options.${k}`),
  ...API_PROVIDERS.flatMap((p) => [
    ...API_KEYS.filter((k) => k !== 'timeouts').map((k) => `provider.${p}.${k}`),
    ...TIMEOUT_KEYS.map((k) => `provider.${p}.timeouts.${k}`),
  ]),
  ...OPENROUTER_KEYS.map((k) => `provider.openrouter.${k}`),
  ...CLAUDE_CODE_KEYS.map((k) => `provider.claude-code.${k}`),
  ...MEMORY_KEYS.map((k) => `memory.${k}`),
]);

type OptionType =
  | { kind: 'number' | 'integer'; min?: number; max?: number }
  | { kind: 'strings' }
  | { kind: 'boolean' };

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function describe(value: unknown): string {
  if (value instanceof Date) return 'a date';
  if (Array.isArray(value)) return 'an array';
  if (isTable(value)) return 'a table';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}

/** A dotted key as TOML would write it, quoting segments a bare key cannot express. */
function dotted(path: readonly string[]): string {
  return path.map((p) => (/^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p))).join('.');
}

function envSecrets(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const name of API_PROVIDERS) {
    const value = env[API_PROVIDER_DEFAULTS[name].apiKeyEnv]?.trim();
    if (value) out.push(value);
  }
  return out;
}

/** Every string under a key named `api_key`, wherever it sits, so no message can repeat it. */
function collectSecrets(node: unknown, into: string[]): void {
  if (!isTable(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'api_key') {
      for (const v of Array.isArray(value) ? value : [value]) {
        if (typeof v === 'string' && v.trim() !== '') into.push(v, v.trim());
      }
    } else collectSecrets(value, into);
  }
}

/** Edit distance counting a swap of neighbours as one edit, the commonest typo in a key. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      row[j] = best;
    }
  }
  return at(a.length, b.length);
}

function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase().replace(/_/g, '-'), c.toLowerCase().replace(/_/g, '-'));
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

/** Parses `a."b c".d` into its segments; undefined when it is not a TOML key. */
function parseDottedKey(text: string): string[] | undefined {
  const parts: string[] = [];
  let i = 0;
  const skipSpace = (): void => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };
  for (;;) {
    skipSpace();
    const c = text[i];
    if (c === undefined) return undefined;
    if (c === '"' || c === "'") {
      const end = text.indexOf(c, i + 1);
      if (end < 0) return undefined;
      parts.push(text.slice(i + 1, end));
      i = end + 1;
    } else {
      const m = /^[A-Za-z0-9_-]+/.exec(text.slice(i));
      if (!m) return undefined;
      parts.push(m[0]);
      i += m[0].length;
    }
    skipSpace();
    if (i >= text.length) return parts;
    if (text[i] !== '.') return undefined;
    i++;
  }
}

const KEY_SEGMENT = String.raw`(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')`;
const ASSIGNMENT_RE = new RegExp(String.raw`^\s*(${KEY_SEGMENT}(?:\s*\.\s*${KEY_SEGMENT})*)\s*=`);
const HEADER_RE = /^\s*\[\[?(.+?)\]\]?\s*(?:#.*)?$/;

/**
 * Validation state: the source for line lookups, the warnings so far, and the secrets no
 * message may contain.
 */
class Reader {
  readonly warnings: ConfigWarning[] = [];
  private index: Map<string, number> | undefined;

  constructor(
    private readonly text: string,
    readonly file: string | undefined,
    private readonly secrets: readonly string[],
  ) {}

  /** 1-based line defining `path`, or its nearest defined parent; a best-effort text scan. */
  lineOf(path: readonly string[]): number | undefined {
    this.index ??= this.buildIndex();
    for (let n = path.length; n > 0; n--) {
      const line = this.index.get(path.slice(0, n).join('\u0000'));
      if (line !== undefined) return line;
    }
    return undefined;
  }

  /** "FILE line N", "FILE", or "the configuration", for use inside a sentence. */
  where(path: readonly string[]): string {
    if (this.file === undefined) return 'the configuration';
    const line = this.lineOf(path);
    return line === undefined ? this.file : `${this.file} line ${line}`;
  }

  error(path: readonly string[], message: string, extra: { expected?: string; hint?: string } = {}): ConfigError {
    return new ConfigError({
      message: redactSecrets(message, this.secrets),
      file: this.file,
      key: path.length > 0 ? redactSecrets(dotted(path), this.secrets) : undefined,
      line: path.length > 0 && this.file !== undefined ? this.lineOf(path) : undefined,
      expected: extra.expected,
      hint: extra.hint === undefined ? undefined : redactSecrets(extra.hint, this.secrets),
    });
  }

  typeError(path: readonly string[], expected: string, value: unknown): ConfigError {
    return this.error(path, `${dotted(path)} must be ${expected}, but ${this.where(path)} sets it to ${describe(value)}.`, {
      expected,
    });
  }

  warn(path: readonly string[], message: string): void {
    const warning: ConfigWarning = {
      key: redactSecrets(dotted(path), this.secrets),
      message: redactSecrets(message, this.secrets),
    };
    if (this.file !== undefined) {
      warning.file = this.file;
      const line = this.lineOf(path);
      if (line !== undefined) warning.line = line;
    }
    this.warnings.push(warning);
  }

  private buildIndex(): Map<string, number> {
    const index = new Map<string, number>();
    const remember = (path: readonly string[], line: number): void => {
      for (let n = 1; n <= path.length; n++) {
        const id = path.slice(0, n).join('\u0000');
        if (!index.has(id)) index.set(id, line);
      }
    };
    let table: string[] = [];
    let inMultiline: string | undefined;
    const lines = this.text.split(/\r?\n/);
    lines.forEach((raw, i) => {
      const lineNo = i + 1;
      if (inMultiline !== undefined) {
        if (raw.split(inMultiline).length % 2 === 0) inMultiline = undefined;
        return;
      }
      const header = HEADER_RE.exec(raw);
      const headerPath = header?.[1] === undefined ? undefined : parseDottedKey(header[1]);
      if (headerPath) {
        table = headerPath;
        remember(table, lineNo);
        return;
      }
      const assignment = ASSIGNMENT_RE.exec(raw);
      const keyPath = assignment?.[1] === undefined ? undefined : parseDottedKey(assignment[1]);
      if (keyPath) remember([...table, ...keyPath], lineNo);
      for (const quote of ['"""', "'''"]) {
        if (raw.split(quote).length % 2 === 0) {
          inMultiline = quote;
          break;
        }
      }
    });
    return index;
  }
}

/** One TOML table under validation: typed getters, and a warning for every key nobody asked about. */
class Section {
  constructor(
    private readonly reader: Reader,
    readonly path: readonly string[],
    readonly table: Table,
  ) {}

  static of(reader: Reader, parent: Section | undefined, key: string): Section {
    const path = parent === undefined ? [key] : [...parent.path, key];
    const value = parent === undefined ? undefined : parent.table[key];
    if (value === undefined) return new Section(reader, path, {});
    if (!isTable(value)) throw reader.typeError(path, `a table ([${dotted(path)}])`, value);
    return new Section(reader, path, value);
  }

  has(key: string): boolean {
    return this.table[key] !== undefined;
  }

  keyPath(key: string): string[] {
    return [...this.path, key];
  }

  /** Warns about every key outside `known`. */
  warnUnknown(known: readonly string[], label = `valid keys in [${dotted(this.path)}]`): void {
    for (const key of Object.keys(this.table)) {
      if (known.includes(key)) continue;
      const guess = suggest(key, known);
      const advice = guess === undefined ? `${label} are ${known.join(', ')}` : `did you mean ${guess}?`;
      this.reader.warn(
        this.keyPath(key),
        `Unknown key ${dotted(this.keyPath(key))} in ${this.reader.where(this.keyPath(key))} is ignored; ${advice}`.replace(
          /([^?])$/,
          '$1.',
        ),
      );
    }
  }

  string(key: string, fallback: string, opts: { nonEmpty?: boolean } = {}): string {
    const value = this.table[key];
    if (value === undefined) return fallback;
    const expected = opts.nonEmpty ? 'a non-empty string' : 'a string';
    if (typeof value !== 'string') throw this.reader.typeError(this.keyPath(key), expected, value);
    if (opts.nonEmpty && value.trim() === '') {
      throw this.reader.error(this.keyPath(key), `${dotted(this.keyPath(key))} in ${this.reader.where(this.keyPath(key))} is empty; give it a value or remove the line to use the default.`, {
        expected,
      });
    }
    return value;
  }

  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key, '', { nonEmpty: true }) : undefined;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.table[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw this.reader.typeError(this.keyPath(key), 'true or false', value);
    return value;
  }

  number(key: string, fallback: number, opts: { integer?: boolean; min?: number; max?: number; expected: string }): number {
    const value = this.table[key];
    if (value === undefined) return fallback;
    return checkNumber(this.reader, this.keyPath(key), value, opts);
  }

  oneOf<T extends string>(key: string, fallback: T, allowed: readonly T[]): T {
    const value = this.string(key, fallback);
    if (!(allowed as readonly string[]).includes(value)) {
      const path = this.keyPath(key);
      throw this.reader.error(
        path,
        `${dotted(path)} in ${this.reader.where(path)} is "${value}", which is not one of ${allowed.join(', ')}; use one of those.`,
        { expected: `one of ${allowed.join(', ')}` },
      );
    }
    return value as T;
  }

  url(key: string, fallback: string): string {
    if (!this.has(key)) return fallback;
    return checkUrl(this.reader, this.keyPath(key), this.string(key, fallback, { nonEmpty: true }));
  }

  filePath(key: string, fallback: string, base: string, home: string): string {
    const value = this.string(key, fallback, { nonEmpty: true });
    return resolve(base, expandHome(value, home));
  }
}

function checkNumber(
  reader: Reader,
  path: readonly string[],
  value: unknown,
  opts: { integer?: boolean; min?: number; max?: number; expected: string },
): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!opts.integer || Number.isInteger(value)) &&
    (opts.min === undefined || value >= opts.min) &&
    (opts.max === undefined || value <= opts.max);
  if (ok) return value;
  if (typeof value !== 'number') throw reader.typeError(path, opts.expected, value);
  throw reader.error(
    path,
    `${dotted(path)} in ${reader.where(path)} is ${String(value)}, but it must be ${opts.expected}.`,
    { expected: opts.expected },
  );
}

function checkUrl(reader: Reader, path: readonly string[], value: string): string {
  const trimmed = value.trim();
  let parsed: URL | undefined;
  try {
    parsed = new URL(trimmed);
  } catch {
    parsed = undefined;
  }
  // Credentials in a URL are as secret as an API key: never repeat such a URL.
  const shown = parsed !== undefined && (parsed.username !== '' || parsed.password !== '') ? 'its value' : `"${trimmed}"`;
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '') {
    throw reader.error(
      path,
      `${dotted(path)} in ${reader.where(path)} must be an http:// or https:// URL, but ${shown} is not; write it like http://localhost:11434.`,
      { expected: 'an http:// or https:// URL' },
    );
  }
  return trimmed.replace(/\/+$/, '');
}

function timeoutsOf(reader: Reader, parent: Section, defaults: Readonly<Timeouts>): Timeouts {
  const section = Section.of(reader, parent, 'timeouts');
  section.warnUnknown(TIMEOUT_KEYS);
  const seconds = (key: (typeof TIMEOUT_KEYS)[number], fallbackMs: number): number => {
    if (!section.has(key)) return fallbackMs;
    const s = section.number(key, 0, { min: 0, expected: 'a number of seconds, 0 or more (0 turns the limit off)' });
    // A tiny positive value must not round to 0, which would mean "no limit".
    return s === 0 ? 0 : Math.max(1, Math.round(s * 1000));
  };
  return {
    connectMs: seconds('connect', defaults.connectMs),
    loadMs: seconds('load', defaults.loadMs),
    idleMs: seconds('idle', defaults.idleMs),
    requestMs: seconds('request', defaults.requestMs),
  };
}

/** Go's time.ParseDuration grammar, which Ollama applies to a string keep_alive. */
const GO_DURATION_RE = /^[-+]?(?:0|(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/;

function keepAliveOf(reader: Reader, section: Section): string | number | undefined {
  const value = section.table.keep_alive;
  if (value === undefined) return undefined;
  const path = section.keyPath('keep_alive');
  const expected = 'a duration string such as "5m" or "1h30m", or a number of seconds (0 unloads at once, negative keeps loaded)';
  if (typeof value === 'number') return checkNumber(reader, path, value, { expected });
  if (typeof value !== 'string') throw reader.typeError(path, expected, value);
  const trimmed = value.trim();
  if (GO_DURATION_RE.test(trimmed)) return trimmed;
  const hint = /^[-+]?\d+(\.\d+)?$/.test(trimmed)
    ? `a number in quotes needs a unit, so write "${trimmed}s" or the bare number ${trimmed}`
    : 'use a duration such as "5m" or "1h30m", or a number of seconds';
  throw reader.error(path, `${dotted(path)} in ${reader.where(path)} is "${trimmed}", which Ollama cannot read; ${hint}.`, {
    expected,
  });
}

function ollamaOptionsOf(reader: Reader, parent: Section): GenerationOptions {
  const section = Section.of(reader, parent, 'options');
  const out: GenerationOptions = {};
  const known = Object.keys(OLLAMA_OPTION_TYPES);
  for (const [key, value] of Object.entries(section.table)) {
    const path = section.keyPath(key);
    const type = OLLAMA_OPTION_TYPES[key];
    if (type === undefined) {
      const guess = suggest(key, known);
      reader.warn(
        path,
        `Option ${dotted(path)} in ${reader.where(path)} is not one Ollama 0.9.6 knows; it is passed on as is, but ${
          guess === undefined ? 'Ollama ignores unknown options' : `did you mean ${guess}?`
        }`.replace(/([^?])$/, '$1.'),
      );
      out[key] = value;
      continue;
    }
    if (type.kind === 'boolean') {
      if (typeof value !== 'boolean') throw reader.typeError(path, 'true or false', value);
      out[key] = value;
    } else if (type.kind === 'strings') {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
        throw reader.typeError(path, 'an array of strings, such as ["\\n\\n"]', value);
      }
      out[key] = [...(value as string[])];
    } else {
      const range =
        type.min !== undefined && type.max !== undefined
          ? ` from ${type.min} to ${type.max}`
          : type.min !== undefined
            ? ` of at least ${type.min}`
            : '';
      const expected = `${type.kind === 'integer' ? 'an integer' : 'a number'}${range}`;
      out[key] = checkNumber(reader, path, value, { integer: type.kind === 'integer', min: type.min, max: type.max, expected });
    }
  }
  return out;
}

function providerNameOf(reader: Reader, path: readonly string[], value: unknown): ProviderName {
  if (typeof value !== 'string') throw reader.typeError(path, `a provider name (${PROVIDER_NAMES.join(', ')})`, value);
  if ((PROVIDER_NAMES as readonly string[]).includes(value)) return value as ProviderName;
  const guess = suggest(value, PROVIDER_NAMES);
  throw reader.error(
    path,
    `${dotted(path)} in ${reader.where(path)} names the unknown provider "${value}"; ${
      guess === undefined ? '' : `did you mean ${guess}? `
    }valid providers are ${PROVIDER_NAMES.join(', ')}.`,
    { expected: `one of ${PROVIDER_NAMES.join(', ')}` },
  );
}

function apiKeyOf(section: Section, env: NodeJS.ProcessEnv, envName: string): string | undefined {
  const fromFile = section.string('api_key', '').trim();
  if (fromFile !== '') return fromFile;
  const fromEnv = env[envName]?.trim();
  return fromEnv ? fromEnv : undefined;
}

function build(
  doc: Table,
  reader: Reader,
  env: NodeJS.ProcessEnv,
  opts: ParseConfigOptions,
): LoadedConfig {
  const home = opts.home ?? homedir();
  // Relative paths in a file are relative to that file, so a config means the same from any cwd.
  const base = reader.file !== undefined ? dirname(resolve(reader.file)) : (opts.cwd ?? process.cwd());
  const root = new Section(reader, [], doc);
  root.warnUnknown(['omega', 'provider', 'memory'], 'valid top-level tables');

  // [omega]
  const omegaSection = Section.of(reader, root, 'omega');
  omegaSection.warnUnknown(OMEGA_KEYS);
  const omega: OmegaSection = {
    name: omegaSection.string('name', 'Omega', { nonEmpty: true }),
    dataDir: omegaSection.filePath('data_dir', '~/.omega', base, home),
    logLevel: omegaSection.oneOf<LogLevel>('log_level', 'info', LOG_LEVELS),
    systemPrompt: omegaSection.string('system_prompt', DEFAULT_SYSTEM_PROMPT),
  };

  // [provider]: unknown sub-tables are errors (a typo there silently disables a provider),
  // unknown plain keys only warnings.
  const providerSection = Section.of(reader, root, 'provider');
  for (const [key, value] of Object.entries(providerSection.table)) {
    if ((PROVIDER_KEYS as readonly string[]).includes(key) || (PROVIDER_NAMES as readonly string[]).includes(key)) continue;
    if (isTable(value)) {
      const path = providerSection.keyPath(key);
      const guess = suggest(key, PROVIDER_NAMES);
      throw reader.error(
        path,
        `[${dotted(path)}] in ${reader.where(path)} configures the unknown provider "${key}"; ${
          guess === undefined ? '' : `did you mean [provider.${guess}]? `
        }valid providers are ${PROVIDER_NAMES.join(', ')}.`,
        { expected: `one of ${PROVIDER_NAMES.join(', ')}` },
      );
    }
  }
  providerSection.warnUnknown([...PROVIDER_KEYS, ...PROVIDER_NAMES]);

  const defaultPath = providerSection.keyPath('default');
  const defaultName: ProviderName = providerSection.has('default')
    ? providerNameOf(reader, defaultPath, providerSection.table.default)
    : 'ollama';
  const fallbackPath = providerSection.keyPath('fallback');
  const fallbackRaw = providerSection.table.fallback ?? [];
  if (!Array.isArray(fallbackRaw)) {
    throw reader.typeError(fallbackPath, `an array of provider names, such as ["anthropic"]`, fallbackRaw);
  }
  const fallbackNamed = fallbackRaw.map((v) => providerNameOf(reader, fallbackPath, v));

  // [provider.ollama]
  const ollamaSection = Section.of(reader, providerSection, 'ollama');
  ollamaSection.warnUnknown(OLLAMA_KEYS);
  // `enabled = false` is the documented default, but a config that picks Ollama (as default,
  // also by omission, or as a fallback) without saying `enabled` clearly means to use it.
  const ollamaImplicit = defaultName === 'ollama' || fallbackNamed.includes('ollama');
  let baseUrl: string;
  let baseUrlSource: OllamaConfig['baseUrlSource'];
  if (ollamaSection.has('base_url')) {
    baseUrl = ollamaSection.url('base_url', DEFAULT_OLLAMA_URL);
    baseUrlSource = 'config';
  } else if (env.OLLAMA_HOST !== undefined && env.OLLAMA_HOST.trim() !== '') {
    baseUrl = parseOllamaHost(env.OLLAMA_HOST);
    baseUrlSource = 'env';
  } else {
    baseUrl = DEFAULT_OLLAMA_URL;
    baseUrlSource = 'default';
  }
  const ollama: OllamaConfig = {
    enabled: ollamaSection.boolean('enabled', ollamaImplicit),
    baseUrl,
    model: ollamaSection.string('model', DEFAULT_OLLAMA_MODEL, { nonEmpty: true }),
    timeouts: timeoutsOf(reader, ollamaSection, DEFAULT_TIMEOUTS),
    options: ollamaOptionsOf(reader, ollamaSection),
    baseUrlSource,
  };
  const keepAlive = keepAliveOf(reader, ollamaSection);
  if (keepAlive !== undefined) ollama.keepAlive = keepAlive;

  // [provider.anthropic] / [provider.openai] / [provider.openrouter]
  const api = {} as Record<ApiProviderName, ApiProviderConfig>;
  for (const name of API_PROVIDERS) {
    const defaults = API_PROVIDER_DEFAULTS[name];
    const section = Section.of(reader, providerSection, name);
    section.warnUnknown(name === 'openrouter' ? [...API_KEYS, ...OPENROUTER_KEYS] : API_KEYS);
    const config: ApiProviderConfig = {
      enabled: section.boolean('enabled', false),
      apiKeyEnv: defaults.apiKeyEnv,
      model: section.string('model', defaults.model, { nonEmpty: true }),
      baseUrl: section.url('base_url', defaults.baseUrl),
      timeouts: timeoutsOf(reader, section, DEFAULT_API_TIMEOUTS),
    };
    const apiKey = apiKeyOf(section, env, defaults.apiKeyEnv);
    if (apiKey !== undefined) config.apiKey = apiKey;
    const maxTokens = section.has('max_tokens')
      ? section.number('max_tokens', 0, { integer: true, min: 1, expected: 'a whole number of tokens, 1 or more' })
      : defaults.maxTokens;
    if (maxTokens !== undefined) config.maxTokens = maxTokens;
    if (name === 'openrouter') {
      if (section.has('app_url')) config.appUrl = section.url('app_url', '');
      if (section.has('app_name')) config.appName = section.string('app_name', '', { nonEmpty: true });
    }
    if (config.enabled && config.apiKey === undefined) {
      reader.warn(
        section.keyPath('api_key'),
        `Provider ${name} is enabled but has no API key; set ${defaults.apiKeyEnv} or api_key under [provider.${name}].`,
      );
    }
    api[name] = config;
  }

  // [provider.claude-code]
  const claudeSection = Section.of(reader, providerSection, 'claude-code');
  claudeSection.warnUnknown(CLAUDE_CODE_KEYS);
  const claudeCode: ClaudeCodeConfig = {
    enabled: claudeSection.boolean('enabled', false),
    command: claudeSection.string('command', CLAUDE_CODE_DEFAULTS.command, { nonEmpty: true }),
    timeoutSecs: claudeSection.number('timeout_secs', CLAUDE_CODE_DEFAULTS.timeoutSecs, {
      min: 0,
      expected: 'a number of seconds, 0 or more (0 turns the limit off)',
    }),
    maxTurns: claudeSection.number('max_turns', CLAUDE_CODE_DEFAULTS.maxTurns, {
      integer: true,
      min: 1,
      expected: 'a whole number, 1 or more',
    }),
  };
  const claudeModel = claudeSection.optionalString('model');
  if (claudeModel !== undefined) claudeCode.model = claudeModel;

  const enabled: Record<ProviderName, boolean> = {
    ollama: ollama.enabled,
    anthropic: api.anthropic.enabled,
    openai: api.openai.enabled,
    openrouter: api.openrouter.enabled,
    'claude-code': claudeCode.enabled,
  };
  if (!enabled[defaultName]) {
    const path = providerSection.has('default') ? defaultPath : ['provider', defaultName, 'enabled'];
    const how = reader.file === undefined ? '' : ` in ${reader.file}`;
    throw reader.error(
      path,
      `The default provider "${defaultName}" is disabled; set enabled = true under [provider.${defaultName}]${how}, or choose another provider.default.`,
      { expected: 'an enabled provider', hint: `[provider.${defaultName}] enabled = true` },
    );
  }

  // Fallback entries that cannot be used are dropped with a warning rather than refused:
  // the default still works, and a later fallback failure would be harder to understand.
  const fallback: ProviderName[] = [];
  for (const name of fallbackNamed) {
    if (name === defaultName) {
      reader.warn(fallbackPath, `provider.fallback in ${reader.where(fallbackPath)} lists the default provider "${name}", which is skipped; remove it from the list.`);
    } else if (fallback.includes(name)) {
      reader.warn(fallbackPath, `provider.fallback in ${reader.where(fallbackPath)} lists "${name}" twice; the repeat is skipped.`);
    } else if (!enabled[name]) {
      reader.warn(
        fallbackPath,
        `provider.fallback in ${reader.where(fallbackPath)} names "${name}", which is disabled and skipped; set enabled = true under [provider.${name}] to use it.`,
      );
    } else {
      fallback.push(name);
    }
  }

  // [memory]
  const memorySection = Section.of(reader, root, 'memory');
  memorySection.warnUnknown(MEMORY_KEYS);
  const memory: MemoryConfig = {
    backend: memorySection.oneOf('backend', 'sqlite', ['sqlite'] as const),
    dbPath: memorySection.has('db_path')
      ? memorySection.filePath('db_path', '', base, home)
      : join(omega.dataDir, 'data', 'memory.db'),
    maxContextMessages: memorySection.number('max_context_messages', 50, {
      integer: true,
      min: 0,
      expected: 'a whole number, 0 or more',
    }),
  };

  const config: OmegaConfig = {
    omega,
    provider: {
      default: defaultName,
      fallback,
      ollama,
      anthropic: api.anthropic,
      openai: api.openai,
      openrouter: api.openrouter,
      'claude-code': claudeCode,
    },
    memory,
  };
  const loaded: LoadedConfig = { config, warnings: reader.warnings };
  if (reader.file !== undefined) loaded.file = reader.file;
  return loaded;
}

function fileKind(path: string): 'file' | 'directory' | 'missing' {
  try {
    const stat = statSync(path);
    return stat.isDirectory() ? 'directory' : 'file';
  } catch {
    return 'missing';
  }
}
