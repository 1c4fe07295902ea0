/**
 * The state of one validation run: the source text for line lookups, the warnings so far, and
 * the secrets no message may contain. Every error and warning of the loader is made here, so
 * redaction happens in one place.
 */
import { ConfigError, redactSecrets } from '../core/errors.js';
import { describe, dotted, indexTomlLines } from './toml.js';
import type { ConfigWarning } from './types.js';

/** Makes located, redacted {@link ConfigError}s and warnings for one config text. */
export class Reader {
  /** Warnings in the order they were found. */
  readonly warnings: ConfigWarning[] = [];
  private index: Map<string, number> | undefined;

  constructor(
    private readonly text: string,
    /** The file being read; undefined for zero-config. */
    readonly file: string | undefined,
    private readonly secrets: readonly string[],
  ) {}

  /** 1-based line defining `path`, or its nearest defined parent; a best-effort text scan. */
  lineOf(path: readonly string[]): number | undefined {
    this.index ??= indexTomlLines(this.text);
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

  /** A ConfigError about `path`, with the file, line and redacted message. */
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

  /** The error for a value of the wrong type. */
  typeError(path: readonly string[], expected: string, value: unknown): ConfigError {
    return this.error(path, `${dotted(path)} must be ${expected}, but ${this.where(path)} sets it to ${describe(value)}.`, {
      expected,
    });
  }

  /** Records a non-fatal finding about `path`. */
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
}
