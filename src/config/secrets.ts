/**
 * The secret strings of a config run (API keys from the file and from the environment), so the
 * reader can redact them from every message before anything is shortened or shown.
 */
import { isTable } from './toml.js';

/** The non-empty values of the environment variables `names` (the specs' key variables). */
export function envSecrets(env: NodeJS.ProcessEnv, names: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) out.push(value);
  }
  return out;
}

/** Every string under a key named `api_key`, and the password of any `url`, wherever it sits, so no message can repeat it. */
export function collectSecrets(node: unknown, into: string[]): void {
  if (!isTable(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'api_key') {
      for (const v of Array.isArray(value) ? value : [value]) {
        if (typeof v === 'string' && v.trim() !== '') into.push(v, v.trim());
      }
    } else if (key === 'url' && typeof value === 'string') {
      // A database URL (`[memory] url`) may carry its password in the user part.
      const password = /^[a-z][a-z0-9+.-]*:\/\/[^:/@]*:([^@/]+)@/i.exec(value.trim())?.[1];
      if (password !== undefined) into.push(password);
      if (password !== undefined && password.includes('%')) {
        try {
          into.push(decodeURIComponent(password));
        } catch {
          // Not percent-encoded after all.
        }
      }
    } else collectSecrets(value, into);
  }
}
