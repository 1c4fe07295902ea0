/**
 * Terminal output helpers: colour that respects NO_COLOR and TTYs, a plain-text table,
 * progress bars, and human formats for bytes, durations and times.
 */
import cliProgress from 'cli-progress';

/** A stream the CLI writes to; `isTTY` decides whether colour and progress bars are used. */
export interface OutStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

/** Colour functions for one stream; each is the identity when colour is off. */
export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

/**
 * Whether to colour output written to `stream`: never when NO_COLOR is set to anything
 * non-empty (https://no-color.org), otherwise when FORCE_COLOR asks for it or the stream is a terminal.
 */
export function colorEnabled(stream: OutStream, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

function sgr(open: number, close: number): (text: string) => string {
  return (text) => (text === '' ? text : `\u001b[${open}m${text}\u001b[${close}m`);
}

const identity = (text: string): string => text;

/** The {@link Style} for `stream` under `env`. */
export function createStyle(stream: OutStream, env: NodeJS.ProcessEnv): Style {
  const enabled = colorEnabled(stream, env);
  if (!enabled) {
    return { enabled, bold: identity, dim: identity, red: identity, green: identity, yellow: identity, cyan: identity };
  }
  return {
    enabled,
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
  };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

/** `text` without ANSI escape sequences. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** Printed width of `text`, ignoring colour codes. */
export function visibleWidth(text: string): number {
  return [...stripAnsi(text)].length;
}

/** Options of {@link formatTable}. */
export interface TableOptions {
  /** Indexes of columns to align right (numbers, sizes). */
  alignRight?: number[];
  /** Spaces between columns. */
  gap?: number;
  /** Applied to the header row (e.g. bold). */
  headerStyle?: (text: string) => string;
}

/**
 * Lays `rows` out in columns under `headers`, like `ollama list`: left-aligned, padded
 * to the widest cell, no borders, no trailing spaces. Returns the lines without newlines.
 */
export function formatTable(headers: string[], rows: string[][], options: TableOptions = {}): string[] {
  const gap = ' '.repeat(options.gap ?? 3);
  const right = new Set(options.alignRight ?? []);
  const widths = headers.map((h, i) => Math.max(visibleWidth(h), ...rows.map((r) => visibleWidth(r[i] ?? ''))));
  const render = (cells: string[], style?: (text: string) => string): string => {
    const padded = widths.map((width, i) => {
      const cell = cells[i] ?? '';
      const pad = ' '.repeat(width - visibleWidth(cell));
      const text = style ? style(cell) : cell;
      return right.has(i) ? pad + text : text + pad;
    });
    return padded.join(gap).trimEnd();
  };
  return [render(headers, options.headerStyle), ...rows.map((row) => render(row))];
}

/**
 * Bytes in decimal units, as Ollama prints them: `950 B`, `4.7 GB`, `274 MB`
 * (one decimal below 10, none above).
 */
/**
 * A set of progress bars in the CLI's one look (`{label} [bar] pct% | {done}/{size} | ` then
 * `tail`), with brackets only when there is no colour to show the bar.
 */
export function progressBars(stream: OutStream, style: Style, tail: string): cliProgress.MultiBar {
  return new cliProgress.MultiBar(
    {
      stream: stream as NodeJS.WritableStream,
      format: `{label} ${style.enabled ? '{bar}' : '[{bar}]'} {percentage}% | {done}/{size} | ${tail}`,
      barsize: 25,
      hideCursor: true,
      autopadding: true,
      fps: 10,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  if (unit === 0) return `${bytes} B`;
  const text = value < 10 ? value.toFixed(1) : Math.round(value).toString();
  // Rounding 999.6 up would print "1000 MB"; carry to the next unit instead.
  if (text === '1000' && unit < units.length - 1) return `1.0 ${units[unit + 1]}`;
  return `${text} ${units[unit]}`;
}

/** A duration for people: `850ms`, `3.2s`, `4m05s`, `1h02m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) {
    const seconds = ms / 1000;
    return seconds < 10 ? `${seconds.toFixed(1)}s` : `${Math.round(seconds)}s`;
  }
  const totalSeconds = Math.round(ms / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${hours}h${String(minutes).padStart(2, '0')}m`;
  return `${minutes}m${String(seconds).padStart(2, '0')}s`;
}

/** A transfer rate: `12 MB/s`. */
export function formatRate(bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return '-';
  return `${formatBytes(bytesPerSecond)}/s`;
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/**
 * A time relative to `now`, as `ollama ps` shows expiry: `in 4 minutes`, `2 hours ago`,
 * `forever` for the far future a negative keep_alive produces.
 */
export function formatRelativeTime(when: Date, now: Date = new Date()): string {
  const diff = when.getTime() - now.getTime();
  if (Number.isNaN(diff)) return '?';
  // keep_alive < 0 makes Ollama report an expiry centuries away.
  if (diff > 100 * 365 * 24 * 3600 * 1000) return 'forever';
  const abs = Math.abs(diff);
  let text: string;
  if (abs < 5_000) return 'now';
  if (abs < 60_000) text = plural(Math.round(abs / 1000), 'second');
  else if (abs < 3_600_000) text = plural(Math.round(abs / 60_000), 'minute');
  else if (abs < 86_400_000) text = plural(Math.round(abs / 3_600_000), 'hour');
  else text = plural(Math.round(abs / 86_400_000), 'day');
  return diff >= 0 ? `in ${text}` : `${text} ago`;
}

/** `value` as pretty-printed JSON with a trailing newline, the shape of every `--json` output. */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
