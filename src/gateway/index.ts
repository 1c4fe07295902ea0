/** The gateway: provider factory, fallback routing, conversation memory and audit. */
export * from './factory.js';
export * from './gateway.js';
export type { GatewayAnswer, GatewayMetadata } from './types.js';
export * from './memory/sqlite.js';
export { MIGRATIONS, LATEST_SCHEMA_VERSION } from './memory/migrations/index.js';
export type { Migration } from './memory/migrations/index.js';
export * from './memory/store.js';
export { PostgresMemory, probePostgres, redactUrl } from './memory/postgres.js';
export type { PostgresMemoryOptions } from './memory/postgres.js';
export { openMemoryStore } from './memory/open.js';
export type { OpenMemoryOptions } from './memory/open.js';
export { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from './memory/postgres-migrations/index.js';
