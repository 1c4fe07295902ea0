/**
 * The memory part of `omega status`: which backend, where, and whether it answers. Kept apart
 * from status.ts so the report stays one short line there. PostgreSQL is probed over one
 * connection (nothing created or migrated); SQLite is a file that exists or not yet.
 */
import { existsSync } from 'node:fs';
import type { OmegaConfig } from '../config/types.js';
import { probePostgres } from '../gateway/memory/postgres.js';

/** What `omega status --json` says about memory. `dbPath`/`exists` stay for SQLite readers. */
export interface MemoryStatus {
  backend: 'sqlite' | 'postgres';
  /** The SQLite file, or the PostgreSQL URL without its password. */
  location: string;
  dbPath?: string;
  exists?: boolean;
  /** PostgreSQL: whether it answered. */
  healthy?: boolean;
  schemaVersion?: number;
  latencyMs?: number;
  error?: string;
}

/** Checks the configured memory backend. */
export async function memoryStatus(config: OmegaConfig, env: NodeJS.ProcessEnv): Promise<MemoryStatus> {
  const m = config.memory;
  if (m.backend !== 'postgres') return { backend: 'sqlite', location: m.dbPath, dbPath: m.dbPath, exists: existsSync(m.dbPath) };
  const health = await probePostgres({ ...(m.url === undefined ? {} : { url: m.url }), env });
  const status: MemoryStatus = { backend: 'postgres', location: health.location, healthy: health.ok };
  if (health.schemaVersion !== undefined) status.schemaVersion = health.schemaVersion;
  if (health.latencyMs !== undefined) status.latencyMs = health.latencyMs;
  if (health.error !== undefined) status.error = health.error;
  return status;
}

/** The text after the `memory` label. */
export function memoryStatusText(s: MemoryStatus, style: { dim(t: string): string; green(t: string): string; red(t: string): string }): string {
  if (s.backend === 'sqlite') return `${s.location}${s.exists === true ? '' : style.dim(' (not created yet)')}`;
  if (s.healthy === true) return `postgres ${s.location} ${style.green('ok')}${style.dim(` (schema ${s.schemaVersion ?? 0}, ${s.latencyMs ?? 0} ms)`)}`;
  return `postgres ${s.location} ${style.red('unreachable')}: ${s.error ?? 'no answer'}`;
}
