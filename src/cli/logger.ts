/**
 * The CLI's logger: the library's {@link Logger} interface, printed as readable lines on
 * stderr (`omega: debug: message key=value`) instead of JSON.
 */
import { LOG_LEVELS, redactSecrets, type LogLevel, type Logger } from '../core/index.js';
import type { OutStream, Style } from './output.js';

const RANK: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 };

const SECRET_KEY = /^(api_?key|authorization|x-api-key|password|token)$/i;

function redactValue(value: unknown, depth: number): unknown {
  if (value instanceof Error) return value.message;
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = SECRET_KEY.test(key) ? '[REDACTED]' : redactValue(v, depth + 1);
  return out;
}

function formatFields(fields: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = typeof value === 'string' ? (/[\s"=]/.test(value) ? JSON.stringify(value) : value) : JSON.stringify(value);
    parts.push(`${key}=${text}`);
  }
  return parts.join(' ');
}

/** Options of {@link createCliLogger}. */
export interface CliLoggerOptions {
  level: LogLevel;
  stream: OutStream;
  style: Style;
  /** Literal secrets (API keys from the config) to blank out of every line. */
  secrets?: readonly (string | undefined)[];
  bindings?: Record<string, unknown>;
}

/** A {@link Logger} writing one human-readable line per record to `stream`. */
export function createCliLogger(options: CliLoggerOptions): Logger {
  const threshold = RANK[options.level];
  const bindings = options.bindings ?? {};
  const make = (level: Exclude<LogLevel, 'silent' | 'fatal'>) => {
    return (objOrMsg: object | string, maybeMsg?: string): void => {
      if (RANK[level] < threshold) return;
      let msg: string;
      let fields: Record<string, unknown>;
      if (typeof objOrMsg === 'string') {
        msg = objOrMsg;
        fields = {};
      } else {
        msg = maybeMsg ?? (objOrMsg instanceof Error ? objOrMsg.message : '');
        fields = objOrMsg instanceof Error ? {} : (redactValue(objOrMsg, 0) as Record<string, unknown>);
      }
      const colour = level === 'error' ? options.style.red : level === 'warn' ? options.style.yellow : options.style.dim;
      const extra = formatFields({ ...bindings, ...fields });
      const line = `omega: ${colour(level)}: ${msg}${extra ? ` ${options.style.dim(extra)}` : ''}`;
      options.stream.write(`${redactSecrets(line, options.secrets ?? [])}\n`);
    };
  };
  const logger: Logger = {
    trace: make('trace'),
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    child: (more) => createCliLogger({ ...options, bindings: { ...bindings, ...more } }),
    level: options.level,
  };
  return logger;
}

/**
 * The level the CLI logs at: debug with `--verbose`; otherwise only errors, so that a
 * failure stays one line on stderr. A config asking for more detail (`debug`, `trace`)
 * or for none (`silent`) is obeyed.
 */
export function cliLogLevel(configured: LogLevel | undefined, verbose: boolean): LogLevel {
  const level = configured !== undefined && LOG_LEVELS.includes(configured) ? configured : 'info';
  if (verbose) return RANK[level] < RANK.debug ? level : 'debug';
  if (level === 'silent' || RANK[level] < RANK.info) return level;
  return RANK[level] > RANK.error ? level : 'error';
}
