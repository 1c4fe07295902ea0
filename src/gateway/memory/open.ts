/**
 * Opens the memory store `[memory]` names: the SQLite file, or the PostgreSQL database
 * (connected and migrated). One place for the gateway, `omega memory` and the bench.
 */
import type { Logger } from '../../core/logger.js';
import type { MemoryConfig } from '../../config/types.js';
import { PostgresMemory } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { MemoryStore } from './store.js';

/** Options of {@link openMemoryStore}. */
export interface OpenMemoryOptions {
  logger?: Logger;
  /** SQLite only: how long a write waits on another process's lock. */
  busyTimeoutMs?: number;
}

/** The store for `memory`; failures are MemoryErrors (the file or the server named, never a password). */
export async function openMemoryStore(memory: MemoryConfig, opts: OpenMemoryOptions = {}): Promise<MemoryStore> {
  if (memory.backend === 'postgres') {
    return PostgresMemory.open({
      ...(memory.url === undefined ? {} : { url: memory.url }),
      ...(memory.poolSize === undefined ? {} : { poolSize: memory.poolSize }),
      ...(memory.statementTimeoutMs === undefined ? {} : { statementTimeoutMs: memory.statementTimeoutMs }),
      ...(opts.logger === undefined ? {} : { logger: opts.logger }),
    });
  }
  return SqliteStore.open(memory.dbPath, {
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
    ...(opts.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: opts.busyTimeoutMs }),
  });
}
