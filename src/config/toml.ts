/**
 * Small facts about TOML values and keys shared by every config module: what a value is
 * called in a message, how a dotted key is written, and a best-effort line index of the
 * source so messages can say `FILE line N` (smol-toml reports positions only for syntax errors).
 */

/** A parsed TOML table. */
export type Table = Record<string, unknown>;

/** True for a TOML table (not an array, not a date). */
export function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** What `value` is, as a sentence would name it ("a string", "an array"...). */
export function describe(value: unknown): string {
  if (value instanceof Date) return 'a date';
  if (Array.isArray(value)) return 'an array';
  if (isTable(value)) return 'a table';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}

/** A dotted key as TOML would write it, quoting segments a bare key cannot express. */
export function dotted(path: readonly string[]): string {
  return path.map((p) => (/^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p))).join('.');
}

/** Parses `a."b c".d` into its segments; undefined when it is not a TOML key. */
export function parseDottedKey(text: string): string[] | undefined {
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
 * Maps every key path (segments joined by NUL) to the 1-based line that first defines it or
 * one of its children: table headers and assignments, skipping multi-line strings.
 */
export function indexTomlLines(text: string): Map<string, number> {
  const index = new Map<string, number>();
  const remember = (path: readonly string[], line: number): void => {
    for (let n = 1; n <= path.length; n++) {
      const id = path.slice(0, n).join('\u0000');
      if (!index.has(id)) index.set(id, line);
    }
  };
  let table: string[] = [];
  let inMultiline: string | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
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
