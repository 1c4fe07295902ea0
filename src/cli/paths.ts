/**
 * Locating files shipped with the package (config.example.toml, package.json), whether
 * the CLI runs built from dist/cli/ or from source in src/cli/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/**
 * The directory holding Omega's package.json, found by walking up from this module, so
 * the answer is the same from `dist/cli/paths.js` and `src/cli/paths.ts`.
 */
export function packageRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const name = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
        if (name === 'omega') return (cachedRoot = dir);
      } catch {
        // An unreadable package.json on the way up is not ours; keep looking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  // Fall back to the layout we know: <root>/{src,dist}/cli/.
  return (cachedRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..'));
}

/** Omega's version from package.json, or `0.0.0` when it cannot be read. */
export function packageVersion(): string {
  try {
    const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof version === 'string' ? version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Path of the committed, documented example configuration. */
export function exampleConfigPath(): string {
  return join(packageRoot(), 'config.example.toml');
}
