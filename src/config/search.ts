/**
 * Where Omega looks for config.toml, in order, and what kind of thing is at a path. Knows
 * nothing of the file's content.
 */
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Where and how `loadConfig` looks; every field defaults to the real process's. */
export interface LoadConfigOptions {
  /** An explicit file (`--config`); it must exist. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** Directory for `./config.toml` and for resolving a relative `path`. */
  cwd?: string;
  /** Home directory for `~` and `~/.omega/config.toml`. */
  home?: string;
}

/** Where a candidate config file came from, in search order. */
export type ConfigSource = 'option' | 'env' | 'cwd' | 'home';

/** One place `loadConfig` looks for a config file. */
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
 * The files `loadConfig` considers, first match wins: `opts.path`, `$OMEGA_CONFIG`,
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

/** What is at `path`; anything unreadable by `stat` counts as missing. */
export function fileKind(path: string): 'file' | 'directory' | 'missing' {
  try {
    const stat = statSync(path);
    return stat.isDirectory() ? 'directory' : 'file';
  } catch {
    return 'missing';
  }
}
