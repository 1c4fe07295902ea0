/**
 * Where Ollama is: the one resolver of the Ollama base URL (`base_url` / `baseUrl`, then
 * `OLLAMA_HOST`, then the default), used by the config loader and by `OllamaProvider` alike.
 * `OLLAMA_HOST` and a bare `host[:port]` follow Ollama's own rules (envconfig.Host in Ollama
 * 0.9.6), so a value that works for the `ollama` CLI works for Omega too.
 */
import { ConfigError, redactSecrets } from '../../core/errors.js';
import { parseHttpUrl, shownUrl } from '../../config/url.js';
import type { ValueSource } from '../../config/section.js';

/** Where Omega looks for Ollama when neither the config nor `OLLAMA_HOST` says otherwise. */
export const DEFAULT_OLLAMA_URL = 'http://localhost:11434';

/** Ollama's port when the value names no scheme. */
const OLLAMA_DEFAULT_PORT = 11434;

/** The environment variable Ollama's own CLI reads its address from. */
export const OLLAMA_HOST_ENV = 'OLLAMA_HOST';

/** Inputs of {@link resolveOllamaBaseUrl}. */
export interface OllamaBaseUrlInput {
  /** An explicit address (`base_url` in config.toml, `baseUrl` in code): a URL or a bare `host[:port]`. */
  value?: string | undefined;
  /** Where `OLLAMA_HOST` is read; `process.env` by default. */
  env?: NodeJS.ProcessEnv | undefined;
  /** How messages name `value`, e.g. `baseUrl` or `provider.ollama.base_url in FILE line 3`. */
  setting?: string;
}

/** The base URL and which setting chose it. */
export interface ResolvedOllamaBaseUrl {
  /** Without a trailing slash; wildcard binds kept (see {@link connectableOllamaUrl}). */
  url: string;
  source: ValueSource;
}

/**
 * Resolves and validates Ollama's base URL: a non-blank `value` wins (a URL is checked as one;
 * a bare `host[:port]` is read the way `OLLAMA_HOST` is), then a non-blank `OLLAMA_HOST`, then
 * {@link DEFAULT_OLLAMA_URL}.
 *
 * @throws ConfigError keyed `provider.ollama.base_url` for a bad `value`, `OLLAMA_HOST` for a bad variable.
 */
export function resolveOllamaBaseUrl(input: OllamaBaseUrlInput = {}): ResolvedOllamaBaseUrl {
  const given = input.value?.trim();
  if (given) return { url: explicitUrl(given, input.setting ?? 'baseUrl'), source: 'config' };
  const host = (input.env ?? process.env)[OLLAMA_HOST_ENV];
  if (host !== undefined && host.trim() !== '') return { url: parseOllamaHost(host), source: 'env' };
  return { url: DEFAULT_OLLAMA_URL, source: 'default' };
}

function explicitUrl(value: string, setting: string): string {
  if (!value.includes('://')) {
    try {
      return parseOllamaHost(value);
    } catch {
      // Not chained: the parser's error names OLLAMA_HOST and repeats the value, which may hold credentials.
      throw badBaseUrl(value, setting);
    }
  }
  if (parseHttpUrl(value) === undefined) throw badBaseUrl(value, setting);
  return value.replace(/\/+$/, '');
}

function badBaseUrl(value: string, setting: string): ConfigError {
  return new ConfigError({
    key: 'provider.ollama.base_url',
    expected: 'an http:// or https:// URL, or host[:port]',
    message: redactSecrets(
      `${setting} must be an http:// or https:// URL or a host[:port], but ${shownUrl(value)} is not; write it like http://localhost:11434 or localhost:11434.`,
    ),
  });
}

/**
 * Turns an `OLLAMA_HOST` value into a base URL without a trailing slash, following Ollama:
 * no scheme means `http` on port 11434; `http://h` means port 80 and `https://h` port 443;
 * anything after the first `/` is kept as a base path; a bare IPv6 address is bracketed;
 * surrounding spaces and quotes are ignored; an empty value means `http://127.0.0.1:11434`;
 * an out-of-range or non-numeric port falls back to the scheme's default port.
 *
 * One deliberate difference: an empty host with a port (`:1234`) becomes `127.0.0.1:1234`
 * (as the official Python client does) instead of Ollama's unusable `http://:1234`.
 * Wildcard hosts such as `0.0.0.0` are kept; use {@link connectableOllamaUrl} to connect.
 *
 * @throws ConfigError when the scheme is not http/https or the result is not a valid URL.
 */
export function parseOllamaHost(value: string): string {
  const trimmed = trimQuotes(value.trim());
  let scheme = 'http';
  let defaultPort = OLLAMA_DEFAULT_PORT;
  let rest = trimmed;
  const schemeEnd = trimmed.indexOf('://');
  if (schemeEnd >= 0) {
    scheme = trimmed.slice(0, schemeEnd).toLowerCase();
    rest = trimmed.slice(schemeEnd + 3);
    if (scheme === 'http') defaultPort = 80;
    else if (scheme === 'https') defaultPort = 443;
    else {
      throw new ConfigError({
        key: 'OLLAMA_HOST',
        expected: 'an http:// or https:// address, or host[:port]',
        message: `OLLAMA_HOST uses the unsupported scheme "${scheme}://"; set it to an http:// or https:// address or to host[:port].`,
      });
    }
  }

  const slash = rest.indexOf('/');
  const hostport = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = (slash >= 0 ? rest.slice(slash + 1) : '').replace(/\/+$/, '');

  const split = splitHostPort(hostport);
  let host: string;
  let portText: string | undefined;
  if (split) {
    host = split.host === '' ? '127.0.0.1' : split.host;
    portText = split.port;
  } else {
    const unbracketed = hostport.replace(/^\[/, '').replace(/\]$/, '');
    host = hostport === '' ? '127.0.0.1' : isIpv6(unbracketed) ? unbracketed : hostport;
  }

  let port = defaultPort;
  if (portText !== undefined && /^[0-9]+$/.test(portText)) {
    const n = Number(portText);
    if (n <= 65535) port = n;
  }

  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  const result = `${scheme}://${hostForUrl}:${port}${path === '' ? '' : `/${path}`}`;
  try {
    new URL(result);
  } catch (cause) {
    throw new ConfigError({
      key: 'OLLAMA_HOST',
      expected: 'host[:port] or an http(s):// URL',
      message: `OLLAMA_HOST "${redactSecrets(trimmed)}" is not a valid address; set it to host[:port] or an http(s):// URL, or unset it.`,
      cause,
    });
  }
  return result;
}

/**
 * The URL a client should connect to for `url`: a wildcard bind address (`0.0.0.0`, `::`)
 * is replaced by the matching loopback address, since servers listen on it but clients
 * cannot reach it everywhere. Other URLs come back unchanged, without a trailing slash.
 *
 * @throws ConfigError when `url` is not a valid URL.
 */
export function connectableOllamaUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ConfigError({
      key: 'provider.ollama.base_url',
      expected: 'an http:// or https:// URL',
      message: `The Ollama address "${redactSecrets(url)}" is not a valid URL; use a value like ${DEFAULT_OLLAMA_URL}.`,
      cause,
    });
  }
  const hostname = parsed.hostname;
  if (hostname === '0.0.0.0') parsed.hostname = '127.0.0.1';
  else if (hostname === '[::]') parsed.hostname = '[::1]';
  else return url.replace(/\/+$/, '');
  return parsed.href.replace(/\/+$/, '');
}

function trimQuotes(value: string): string {
  // Go's strings.Trim(s, "\"'"): strips any run of either quote character at both ends.
  return value.replace(/^["']+/, '').replace(/["']+$/, '');
}

/** Go's net.SplitHostPort, enough for OLLAMA_HOST: undefined when there is no port part. */
function splitHostPort(hostport: string): { host: string; port: string } | undefined {
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close < 0 || hostport[close + 1] !== ':') return undefined;
    return { host: hostport.slice(1, close), port: hostport.slice(close + 2) };
  }
  const colon = hostport.lastIndexOf(':');
  if (colon < 0 || hostport.indexOf(':') !== colon) return undefined;
  return { host: hostport.slice(0, colon), port: hostport.slice(colon + 1) };
}

function isIpv6(value: string): boolean {
  if (!value.includes(':')) return false;
  try {
    new URL(`http://[${value}]/`);
    return true;
  } catch {
    return false;
  }
}
