/**
 * The few statistics the benchmarks report, and the shape of a report table. Medians, because on a shared machine a single
 * descheduled run drags a mean far more than it moves a median.
 */

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Median, extremes and count of a sample. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** {@link Summary} of `xs`. */
export function summarize(xs: readonly number[]): Summary {
  return {
    median: median(xs),
    min: xs.length ? Math.min(...xs) : Number.NaN,
    max: xs.length ? Math.max(...xs) : Number.NaN,
    n: xs.length,
  };
}

/** `xs` rotated left by `k`: round k of an alternating schedule starts with a different client. */
export function rotate<T>(xs: readonly T[], k: number): T[] {
  const n = xs.length;
  if (n === 0) return [];
  const r = ((k % n) + n) % n;
  return [...xs.slice(r), ...xs.slice(0, r)];
}

/** A number with thousands separators and `digits` decimals. */
export function fmt(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Mebibytes with one decimal. */
export function mib(bytes: number): string {
  return fmt(bytes / (1024 * 1024), 1);
}

/** `min – max` of a summary, or nothing when it has no samples. */
export function range(s: Summary, digits = 0): string {
  return s.n === 0 ? '' : `${fmt(s.min, digits)} – ${fmt(s.max, digits)}`;
}

/** Appends `x` to the list kept under `key`. */
export function pushTo<K>(map: Map<K, number[]>, key: K, x: number): void {
  const list = map.get(key);
  if (list) list.push(x);
  else map.set(key, [x]);
}

/** One table of a report, as bench/run.ts renders it in text and markdown. */
export interface ReportBlock {
  title: string;
  head: string[];
  rows: string[][];
  align: ('l' | 'r')[];
  note?: string;
}
