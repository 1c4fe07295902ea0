/**
 * The declarative shape of a config table: which keys it has and what type each holds. One
 * schema per table (`[omega]`, `[memory]`, each provider's spec) drives `KNOWN_CONFIG_KEYS`,
 * the unknown-key warnings with their suggestions, and the documentation checks.
 */
import { Section } from './section.js';
import { suggest } from './suggest.js';
import { dotted, isTable } from './toml.js';

/** The type of a leaf value, as config.toml writes it. */
export type KeyType = 'boolean' | 'string' | 'url' | 'path' | 'integer' | 'number' | 'seconds' | 'duration' | 'strings';

/** A sub-table. `open` tables take keys beyond the listed ones; their owner words those warnings. */
export interface NestedSchema {
  readonly table: TableSchema;
  readonly open?: boolean;
  /** An array of such tables (`[[provider.ollama.hosts]]`), each with the keys of {@link table}. */
  readonly array?: boolean;
}

/** The keys of one table and their types, in documentation order. */
export interface TableSchema {
  readonly [key: string]: KeyType | NestedSchema;
}

/** `timeouts = { connect, load, idle, request }`, in seconds, as every network provider takes it. */
export const TIMEOUTS_SCHEMA: NestedSchema = Object.freeze({
  table: Object.freeze({ connect: 'seconds', load: 'seconds', idle: 'seconds', request: 'seconds' }),
});

/** Every leaf key of `schema` as a dotted path under `prefix` (`provider.ollama.timeouts.load`). */
export function schemaKeys(prefix: string, schema: TableSchema): string[] {
  return Object.entries(schema).flatMap(([key, type]) =>
    typeof type === 'string' ? [`${prefix}.${key}`] : schemaKeys(`${prefix}.${key}`, type.table),
  );
}

/** The type `schema` gives the dotted `key` (relative to the schema), if it names a leaf. */
export function schemaType(schema: TableSchema, key: string): KeyType | undefined {
  const [head, ...rest] = key.split('.');
  const type = head === undefined ? undefined : schema[head];
  if (type === undefined) return undefined;
  if (typeof type === 'string') return rest.length === 0 ? type : undefined;
  return rest.length === 0 ? undefined : schemaType(type.table, rest.join('.'));
}

/**
 * Warns about each key of `section` that `schema` does not list, with the closest known key as a
 * suggestion, then does the same inside each closed sub-table the file sets.
 */
export function warnUnknownKeys(section: Section, schema: TableSchema, label?: string): void {
  warnUnknownIn(section, Object.keys(schema), label);
  for (const [key, type] of Object.entries(schema)) {
    if (typeof type === 'string' || type.open || !section.has(key)) continue;
    if (type.array === true) {
      // Each entry of an array of tables; a value of the wrong shape is its owner's error to report.
      const entries = section.table[key];
      if (!Array.isArray(entries)) continue;
      for (const entry of entries) if (isTable(entry)) warnUnknownKeys(new Section(section.reader, section.keyPath(key), entry), type.table);
      continue;
    }
    warnUnknownKeys(section.child(key), type.table);
  }
}

/** Warns about each key of `section` outside `known`. */
export function warnUnknownIn(section: Section, known: readonly string[], label = `valid keys in [${dotted(section.path)}]`): void {
  for (const key of Object.keys(section.table)) {
    if (known.includes(key)) continue;
    const guess = suggest(key, known);
    const advice = guess === undefined ? `${label} are ${known.join(', ')}` : `did you mean ${guess}?`;
    const path = section.keyPath(key);
    section.warn(key, `Unknown key ${dotted(path)} in ${section.where(key)} is ignored; ${advice}`.replace(/([^?])$/, '$1.'));
  }
}
