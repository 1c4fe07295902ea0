/**
 * Omega's typed errors. Every failure a user can meet is one of these, with a message
 * that is one sentence a person can act on.
 */
import type { HostAttempt } from './types.js';

/** The broad area an error belongs to. */
export type ErrorKind = 'provider' | 'config' | 'memory' | 'usage' | 'internal';

/** Base of every error Omega throws on purpose. */
export class OmegaError extends Error {
  /** The broad area of the failure. */
  readonly kind: ErrorKind;
  /** What to do about it, when that is not already in the message. */
  readonly hint?: string;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OmegaError';
    this.kind = kind;
    if (options?.hint !== undefined) this.hint = options.hint;
  }
}

/** Why a provider call failed. */
export type ProviderErrorCode =
  | 'unavailable'
  | 'model_not_found'
  | 'unsupported'
  | 'bad_request'
  | 'auth'
  | 'rate_limited'
  | 'busy'
  | 'server_error'
  | 'timeout'
  | 'aborted'
  | 'protocol'
  | 'connection_lost'
  | 'context_overflow';

/** Every {@link ProviderErrorCode}, for exhaustive checks and CLI output. */
export const PROVIDER_ERROR_CODES: readonly ProviderErrorCode[] = [
  'unavailable',
  'model_not_found',
  'unsupported',
  'bad_request',
  'auth',
  'rate_limited',
  'busy',
  'server_error',
  'timeout',
  'aborted',
  'protocol',
  'connection_lost',
  'context_overflow',
];

/** Codes that another attempt (later, or at another provider) may cure. */
const RETRYABLE: ReadonlySet<ProviderErrorCode> = new Set([
  'unavailable',
  'rate_limited',
  'busy',
  'server_error',
  'timeout',
  'connection_lost',
]);

/** Whether a failure with `code` is worth retrying or falling back from by default. */
export function isRetryableCode(code: ProviderErrorCode): boolean {
  return RETRYABLE.has(code);
}

/** The phase of a request that ran out of time. */
export type TimeoutPhase = 'connect' | 'load' | 'idle' | 'request';

/** Where a provider's base URL came from: its default, the config (or constructor option), or an environment variable. */
export type BaseUrlSource = 'default' | 'config' | 'env';

/** Construction options of {@link ProviderError}. */
export interface ProviderErrorOptions {
  provider: string;
  code: ProviderErrorCode;
  message: string;
  status?: number;
  /** Defaults to {@link isRetryableCode}(code). */
  retryable?: boolean;
  hint?: string;
  cause?: unknown;
  /** For `timeout`: which phase expired. */
  phase?: TimeoutPhase;
  /** Text received before the failure (a stream cut off mid-way). */
  partialText?: string;
  /** For `rate_limited`: how long the server asked us to wait. */
  retryAfterMs?: number;
  /** The provider's own error text, verbatim. */
  providerMessage?: string;
  /** The setting that would fix it: see {@link ProviderSetting}. */
  setting?: ProviderSetting;
  /** The model the request named. */
  model?: string;
  /** The base URL the request went to. */
  baseUrl?: string;
  /** Method and path below the base URL, e.g. `POST /api/chat`. */
  endpoint?: string;
  /** Where {@link baseUrl} came from. */
  baseUrlSource?: BaseUrlSource;
  /** See {@link ProviderError.host}. */
  host?: string;
  /** See {@link ProviderError.hostAttempts}. */
  hostAttempts?: HostAttempt[];
}

/**
 * A setting by its two names: the library option that the message names (`timeouts.loadMs`) and
 * the config.toml key a CLI user sets instead (`provider.ollama.timeouts.load`).
 */
export interface ProviderSetting {
  option: string;
  configKey: string;
}

/** A provider call failed. `code` says how; `retryable` says whether to try again or elsewhere. */
export class ProviderError extends OmegaError {
  readonly provider: string;
  readonly code: ProviderErrorCode;
  readonly status?: number;
  readonly retryable: boolean;
  readonly phase?: TimeoutPhase;
  readonly partialText?: string;
  readonly retryAfterMs?: number;
  readonly providerMessage?: string;
  /** The setting that would fix this failure (a timeout's limit), for callers to name. */
  readonly setting?: ProviderSetting;
  /** The model the request named; read this rather than parsing the message. */
  readonly model?: string;
  /** The base URL the request went to. */
  readonly baseUrl?: string;
  /** Method and path below the base URL, e.g. `POST /api/chat`. */
  readonly endpoint?: string;
  /** Where {@link baseUrl} came from, when the provider knows. */
  readonly baseUrlSource?: BaseUrlSource;
  /**
   * For a provider that routes among several servers (an Ollama fleet): the server this failure
   * came from, when it came from one (not, e.g., from waiting for a free slot).
   */
  host?: string;
  /**
   * For such a provider: every server tried for this request, in order, so each can be audited;
   * when {@link host} is set, the last one is this failure. Set as the error leaves the fleet.
   */
  hostAttempts?: HostAttempt[];

  constructor(options: ProviderErrorOptions) {
    super('provider', options.message, { cause: options.cause, hint: options.hint });
    this.name = 'ProviderError';
    this.provider = options.provider;
    this.code = options.code;
    this.retryable = options.retryable ?? isRetryableCode(options.code);
    if (options.status !== undefined) this.status = options.status;
    if (options.phase !== undefined) this.phase = options.phase;
    if (options.partialText !== undefined) this.partialText = options.partialText;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.providerMessage !== undefined) this.providerMessage = options.providerMessage;
    if (options.setting !== undefined) this.setting = options.setting;
    if (options.model !== undefined) this.model = options.model;
    if (options.baseUrl !== undefined) this.baseUrl = options.baseUrl;
    if (options.endpoint !== undefined) this.endpoint = options.endpoint;
    if (options.baseUrlSource !== undefined) this.baseUrlSource = options.baseUrlSource;
    if (options.host !== undefined) this.host = options.host;
    if (options.hostAttempts !== undefined) this.hostAttempts = options.hostAttempts;
  }
}

/** Construction options of {@link ConfigError}. */
export interface ConfigErrorOptions {
  message: string;
  /** The config file, when one was read. */
  file?: string;
  /** Dotted key path, e.g. `provider.ollama.base_url`. */
  key?: string;
  /** 1-based line, for syntax errors and where the key's line is known. */
  line?: number;
  column?: number;
  /** What a valid value looks like. */
  expected?: string;
  hint?: string;
  cause?: unknown;
}

/** The configuration is wrong: names the file, the key (and line) and what was expected. */
export class ConfigError extends OmegaError {
  readonly file?: string;
  readonly key?: string;
  readonly line?: number;
  readonly column?: number;
  readonly expected?: string;

  constructor(options: ConfigErrorOptions) {
    super('config', options.message, { cause: options.cause, hint: options.hint });
    this.name = 'ConfigError';
    if (options.file !== undefined) this.file = options.file;
    if (options.key !== undefined) this.key = options.key;
    if (options.line !== undefined) this.line = options.line;
    if (options.column !== undefined) this.column = options.column;
    if (options.expected !== undefined) this.expected = options.expected;
  }
}

/** Why the memory store failed. */
export type MemoryErrorCode = 'locked' | 'readonly' | 'corrupt' | 'io' | 'schema' | 'unavailable' | 'timeout' | 'auth';

/** The conversation store failed; names the database file (or its URL, without the password). */
export class MemoryError extends OmegaError {
  readonly code: MemoryErrorCode;
  readonly file: string;

  constructor(options: { code: MemoryErrorCode; file: string; message: string; hint?: string; cause?: unknown }) {
    super('memory', options.message, { cause: options.cause, hint: options.hint });
    this.name = 'MemoryError';
    this.code = options.code;
    this.file = options.file;
  }
}

/** The caller used Omega wrongly (bad CLI arguments, bad request shape). */
export class UsageError extends OmegaError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('usage', message, options);
    this.name = 'UsageError';
  }
}

/** True for any error Omega raised on purpose. */
export function isOmegaError(error: unknown): error is OmegaError {
  return error instanceof OmegaError;
}

/** True for a {@link ProviderError}, optionally of one code. */
export function isProviderError(error: unknown, code?: ProviderErrorCode): error is ProviderError {
  return error instanceof ProviderError && (code === undefined || error.code === code);
}

/**
 * Removes secrets from text that may reach a log or an error message: bearer tokens,
 * `sk-...`-style keys, and any literal value passed in `secrets`.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  }
  return out
    .replace(/\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, '$1[REDACTED]')
    .replace(/\b(sk-(?:ant-|or-)?[A-Za-z0-9_-]{4})[A-Za-z0-9_-]{8,}/g, '$1…[REDACTED]');
}
