/**
 * One TOML table under validation, with typed getters. Provider specs read their own section
 * through it, so every value gets the same checks, messages, file and line.
 */
import { resolve } from 'node:path';
import type { ConfigError } from '../core/errors.js';
import type { Timeouts } from '../core/types.js';
import { expandHome } from './search.js';
import type { Reader } from './reader.js';
import { dotted, isTable } from './toml.js';
import type { Table } from './toml.js';
import { parseHttpUrl, shownUrl } from './url.js';

/** Bounds and wording of a number setting. */
export interface NumberRule {
  integer?: boolean;
  min?: number;
  max?: number;
  /** What the value must be, as a sentence ends: "a whole number, 1 or more". */
  expected: string;
}

/** Where a resolved value came from. */
export type ValueSource = 'default' | 'config' | 'env';

/** A table of config.toml and the reader that reports on it. */
export class Section {
  constructor(
    /** The run this section belongs to. */
    readonly reader: Reader,
    /** Key path of the table, e.g. `['provider', 'ollama']`. */
    readonly path: readonly string[],
    /** The table's parsed content; `{}` when the file omits it. */
    readonly table: Table,
  ) {}

  /** The sub-table `key` of `parent` (empty when absent); a non-table value is an error. */
  static of(reader: Reader, parent: Section | undefined, key: string): Section {
    const path = parent === undefined ? [key] : [...parent.path, key];
    const value = parent === undefined ? undefined : parent.table[key];
    if (value === undefined) return new Section(reader, path, {});
    if (!isTable(value)) throw reader.typeError(path, `a table ([${dotted(path)}])`, value);
    return new Section(reader, path, value);
  }

  /** The sub-table `key` of this one. */
  child(key: string): Section {
    return Section.of(this.reader, this, key);
  }

  /** True when the file sets `key`. */
  has(key: string): boolean {
    return this.table[key] !== undefined;
  }

  /** `config` when the file sets `key`, else `default`. */
  sourceOf(key: string): ValueSource {
    return this.has(key) ? 'config' : 'default';
  }

  /** The full key path of `key`. */
  keyPath(key: string): string[] {
    return [...this.path, key];
  }

  /** "FILE line N" (or less) for `key`, for use inside a sentence. */
  where(key: string): string {
    return this.reader.where(this.keyPath(key));
  }

  /** A located ConfigError about `key`. */
  error(key: string, message: string, extra: { expected?: string; hint?: string } = {}): ConfigError {
    return this.reader.error(this.keyPath(key), message, extra);
  }

  /** A located warning about `key`. */
  warn(key: string, message: string): void {
    this.reader.warn(this.keyPath(key), message);
  }

  /** The error for a value of `key` of the wrong type. */
  typeError(key: string, expected: string): ConfigError {
    return this.reader.typeError(this.keyPath(key), expected, this.table[key]);
  }

  /** A string; `nonEmpty` refuses blank values. */
  string(key: string, fallback: string, opts: { nonEmpty?: boolean } = {}): string {
    const value = this.table[key];
    if (value === undefined) return fallback;
    const expected = opts.nonEmpty ? 'a non-empty string' : 'a string';
    if (typeof value !== 'string') throw this.typeError(key, expected);
    if (opts.nonEmpty && value.trim() === '') {
      throw this.error(key, `${dotted(this.keyPath(key))} in ${this.where(key)} is empty; give it a value or remove the line to use the default.`, {
        expected,
      });
    }
    return value;
  }

  /** A non-empty string, or undefined when unset. */
  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key, '', { nonEmpty: true }) : undefined;
  }

  /** `true` or `false`. */
  boolean(key: string, fallback: boolean): boolean {
    const value = this.table[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw this.typeError(key, 'true or false');
    return value;
  }

  /** A finite number within `rule`. */
  number(key: string, fallback: number, rule: NumberRule): number {
    const value = this.table[key];
    if (value === undefined) return fallback;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (!rule.integer || Number.isInteger(value)) &&
      (rule.min === undefined || value >= rule.min) &&
      (rule.max === undefined || value <= rule.max);
    if (ok) return value;
    if (typeof value !== 'number') throw this.typeError(key, rule.expected);
    throw this.error(key, `${dotted(this.keyPath(key))} in ${this.where(key)} is ${String(value)}, but it must be ${rule.expected}.`, {
      expected: rule.expected,
    });
  }

  /** One of `allowed`. */
  oneOf<T extends string>(key: string, fallback: T, allowed: readonly T[]): T {
    const value = this.string(key, fallback);
    if (!(allowed as readonly string[]).includes(value)) {
      throw this.error(
        key,
        `${dotted(this.keyPath(key))} in ${this.where(key)} is "${value}", which is not one of ${allowed.join(', ')}; use one of those.`,
        { expected: `one of ${allowed.join(', ')}` },
      );
    }
    return value as T;
  }

  /** An http(s) URL, without a trailing slash. */
  url(key: string, fallback: string): string {
    if (!this.has(key)) return fallback;
    const value = this.string(key, fallback, { nonEmpty: true });
    if (parseHttpUrl(value) === undefined) {
      throw this.error(
        key,
        `${dotted(this.keyPath(key))} in ${this.where(key)} must be an http:// or https:// URL, but ${shownUrl(value)} is not; write it like http://localhost:11434.`,
        { expected: 'an http:// or https:// URL' },
      );
    }
    return value.trim().replace(/\/+$/, '');
  }

  /** A path, `~`-expanded and made absolute against `base`. */
  filePath(key: string, fallback: string, base: string, home: string): string {
    const value = this.string(key, fallback, { nonEmpty: true });
    return resolve(base, expandHome(value, home));
  }

  /** The `timeouts` sub-table (seconds in the file) as milliseconds, missing phases from `defaults`. */
  timeouts(defaults: Readonly<Timeouts>): Timeouts {
    const section = this.child('timeouts');
    const ms = (key: string, fallbackMs: number): number => {
      if (!section.has(key)) return fallbackMs;
      const s = section.number(key, 0, { min: 0, expected: 'a number of seconds, 0 or more (0 turns the limit off)' });
      // A tiny positive value must not round to 0, which would mean "no limit".
      return s === 0 ? 0 : Math.max(1, Math.round(s * 1000));
    };
    return {
      connectMs: ms('connect', defaults.connectMs),
      loadMs: ms('load', defaults.loadMs),
      idleMs: ms('idle', defaults.idleMs),
      requestMs: ms('request', defaults.requestMs),
    };
  }
}
