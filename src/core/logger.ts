/**
 * Logging. Library code logs only through a {@link Logger}; the default is silent so that
 * embedding Omega in another program never writes to its stdout or stderr uninvited.
 */
import { pino } from 'pino';

/** Log levels, most verbose first. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** Levels accepted in config and on the command line. */
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

type LogFn = {
  (msg: string): void;
  (obj: object, msg?: string): void;
};

/** The structured logger interface Omega uses: pino's, reduced to what the code calls. */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Logger;
  level: string;
}

/**
 * Key paths whose values are secrets. pino replaces them before a line is written,
 * so a key handed to a log call by mistake still never reaches the output.
 */
export const REDACTED_PATHS: readonly string[] = [
  'apiKey',
  'api_key',
  '*.apiKey',
  '*.api_key',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  /** File descriptor to write to; 2 (stderr) by default so stdout stays clean for answers. */
  fd?: number;
  name?: string;
}

/** A pino logger writing JSON lines to stderr, with secrets redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: options.name ?? 'omega',
      level: options.level ?? 'info',
      redact: { paths: [...REDACTED_PATHS], censor: '[REDACTED]' },
    },
    pino.destination({ fd: options.fd ?? 2, sync: true }),
  ) as unknown as Logger;
}

/** A logger that writes nothing; the default inside library classes. */
export const silentLogger: Logger = pino({ level: 'silent' }) as unknown as Logger;
