/**
 * The one check of an http(s) URL setting, shared by the config loader and the providers'
 * constructors so a value accepted in config.toml is accepted in code, and the other way round.
 */

/** `value` (trimmed) as a URL when it is an absolute http:// or https:// URL with a host; else undefined. */
export function parseHttpUrl(value: string): URL | undefined {
  let parsed: URL;
  try {
    parsed = new URL(value.trim());
  } catch {
    return undefined;
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '') return undefined;
  return parsed;
}

/**
 * How a message may show a URL setting: quoted, or "its value" when it carries credentials,
 * which are as secret as an API key.
 */
export function shownUrl(value: string): string {
  const trimmed = value.trim();
  let parsed: URL | undefined;
  try {
    parsed = new URL(trimmed);
  } catch {
    parsed = undefined;
  }
  // A value that does not parse may still hold `user:password@`.
  const credentials = parsed === undefined ? trimmed.includes('@') : parsed.username !== '' || parsed.password !== '';
  return credentials ? 'its value' : `"${trimmed}"`;
}
