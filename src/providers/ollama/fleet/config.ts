/**
 * The fleet's part of `[provider.ollama]`: the `[[provider.ollama.hosts]]` entries and the
 * `[provider.ollama.fleet]` knobs, their schema and their validation. The Ollama spec calls these;
 * every mistake is a located ConfigError that says what to write instead.
 */
import type { Section } from '../../../config/section.js';
import type { NestedSchema, TableSchema } from '../../../config/schema.js';
import { dotted, isTable } from '../../../config/toml.js';
import { parseHttpUrl, shownUrl } from '../../../config/url.js';
import type { FleetHostConfig, FleetOptions } from './types.js';
import { DEFAULT_FLEET_OPTIONS } from './types.js';

/** The keys of one `[[provider.ollama.hosts]]` entry. */
export const HOST_SCHEMA: NestedSchema = Object.freeze({
  array: true,
  table: Object.freeze({ url: 'url', weight: 'number', max_concurrent: 'integer', labels: 'strings' }),
});

/** The keys of `[provider.ollama.fleet]`. */
export const FLEET_SCHEMA: NestedSchema = Object.freeze({
  table: Object.freeze({
    refresh_interval: 'seconds',
    min_refresh_interval: 'seconds',
    probe_interval: 'seconds',
    probe_timeout: 'seconds',
    queue_size: 'integer',
    queue_timeout: 'seconds',
    max_attempts: 'integer',
    breaker_threshold: 'integer',
    breaker_cooldown: 'seconds',
    sticky_ttl: 'seconds',
    max_concurrent: 'integer',
  } satisfies TableSchema),
});

/** The largest weight accepted: beyond it one host would take everything anyway. */
const MAX_WEIGHT = 1000;

/** A URL in the form hosts are compared by: lower-case scheme and host, no trailing slash. */
export function normalHostUrl(url: string): string {
  const parsed = new URL(url.trim());
  return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`;
}

/**
 * The `[[provider.ollama.hosts]]` entries, or undefined when the file has none. Refuses an
 * empty list, entries that are not tables, bad URLs, weights and slot counts, repeated URLs,
 * and `base_url` next to `hosts`.
 */
export function hostsOf(section: Section): FleetHostConfig[] | undefined {
  if (!section.has('hosts')) return undefined;
  const raw = section.table.hosts;
  const path = dotted(section.keyPath('hosts'));
  const where = section.where('hosts');
  const expected = 'one [[provider.ollama.hosts]] table per host, each with a url';
  if (!Array.isArray(raw) || !raw.every(isTable)) throw section.typeError('hosts', `an array of tables (${expected})`);
  if (raw.length === 0) throw section.error('hosts', `${path} in ${where} lists no host; add a [[provider.ollama.hosts]] table with a url, or remove hosts.`, { expected });
  if (section.has('base_url')) {
    throw section.error(
      'base_url',
      `[provider.ollama] in ${section.where('base_url')} sets both base_url and [[provider.ollama.hosts]]; keep base_url for one host, or list every host (that one included) under hosts and remove base_url.`,
      { expected: 'base_url or hosts, not both' },
    );
  }
  const seen = new Map<string, number>();
  return raw.map((entry, i) => {
    const n = i + 1;
    const label = `Host ${n} of ${path} (${where})`;
    const url = entry.url;
    if (typeof url !== 'string' || url.trim() === '') {
      throw section.error('hosts', `${label} has no url; write url = "http://host:11434" in it.`, { expected: 'an http:// or https:// URL' });
    }
    if (parseHttpUrl(url) === undefined) {
      throw section.error('hosts', `${label} has the url ${shownUrl(url)}, which is not an http:// or https:// URL; write it like http://gpu-box:11434.`, {
        expected: 'an http:// or https:// URL',
      });
    }
    const normal = normalHostUrl(url);
    const first = seen.get(normal);
    if (first !== undefined) {
      throw section.error('hosts', `${label} repeats the url ${normal} of host ${first}; list each host once.`, { expected: 'a different url per host' });
    }
    seen.set(normal, n);
    const host: FleetHostConfig = { url: normal, weight: 1, labels: [] };
    if (entry.weight !== undefined) {
      const w = entry.weight;
      if (typeof w !== 'number' || !Number.isFinite(w) || w <= 0 || w > MAX_WEIGHT) {
        throw section.error('hosts', `${label} has weight = ${String(w)}, but a weight must be a number above 0 and at most ${MAX_WEIGHT} (1 is the default).`, {
          expected: `a number above 0, at most ${MAX_WEIGHT}`,
        });
      }
      host.weight = w;
    }
    if (entry.max_concurrent !== undefined) {
      const m = entry.max_concurrent;
      if (typeof m !== 'number' || !Number.isInteger(m) || m < 1) {
        throw section.error('hosts', `${label} has max_concurrent = ${String(m)}, but it must be a whole number, 1 or more (set it to the host's OLLAMA_NUM_PARALLEL).`, {
          expected: 'a whole number, 1 or more',
        });
      }
      host.maxConcurrent = m;
    }
    if (entry.labels !== undefined) {
      const l = entry.labels;
      if (!Array.isArray(l) || !l.every((v) => typeof v === 'string' && v.trim() !== '')) {
        throw section.error('hosts', `${label} has labels that are not a list of non-empty strings; write them like labels = ["gpu"].`, {
          expected: 'an array of non-empty strings',
        });
      }
      host.labels = (l as string[]).map((v) => v.trim());
    }
    return host;
  });
}

/** `[provider.ollama.fleet]` with defaults for what it leaves out; times are seconds in the file. */
export function fleetOptionsOf(section: Section): FleetOptions {
  const d = DEFAULT_FLEET_OPTIONS;
  const ms = (key: string, fallbackMs: number, min: number, expected: string): number => {
    if (!section.has(key)) return fallbackMs;
    const s = section.number(key, 0, { min, expected });
    return s === 0 ? 0 : Math.max(1, Math.round(s * 1000));
  };
  const count = (key: string, fallback: number, min: number): number =>
    section.number(key, fallback, { integer: true, min, expected: `a whole number, ${min} or more` });
  const positive = 'a number of seconds above 0';
  return {
    refreshIntervalMs: ms('refresh_interval', d.refreshIntervalMs, 0, 'a number of seconds, 0 or more (0 turns background discovery off)'),
    minRefreshIntervalMs: ms('min_refresh_interval', d.minRefreshIntervalMs, 0, 'a number of seconds, 0 or more'),
    probeIntervalMs: ms('probe_interval', d.probeIntervalMs, 0, 'a number of seconds, 0 or more (0 turns health probes off)'),
    probeTimeoutMs: positiveMs(section, 'probe_timeout', d.probeTimeoutMs, positive),
    queueSize: count('queue_size', d.queueSize, 0),
    queueTimeoutMs: positiveMs(section, 'queue_timeout', d.queueTimeoutMs, positive),
    maxAttempts: count('max_attempts', d.maxAttempts, 1),
    breakerThreshold: count('breaker_threshold', d.breakerThreshold, 1),
    breakerCooldownMs: positiveMs(section, 'breaker_cooldown', d.breakerCooldownMs, positive),
    stickyTtlMs: ms('sticky_ttl', d.stickyTtlMs, 0, 'a number of seconds, 0 or more (0 turns stickiness off)'),
    defaultMaxConcurrent: count('max_concurrent', d.defaultMaxConcurrent, 1),
  };
}

/** A time that must not be 0, in ms. */
function positiveMs(section: Section, key: string, fallbackMs: number, expected: string): number {
  if (!section.has(key)) return fallbackMs;
  const s = section.number(key, 0, { min: 0, expected });
  if (s <= 0) {
    throw section.error(key, `${dotted(section.keyPath(key))} in ${section.where(key)} is ${String(s)}, but it must be ${expected}.`, { expected });
  }
  return Math.max(1, Math.round(s * 1000));
}
