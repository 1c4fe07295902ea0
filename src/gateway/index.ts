/** The gateway: provider factory, fallback routing, conversation memory and audit. */
export * from './factory.js';
export * from './gateway.js';
export type { GatewayAnswer, GatewayMetadata } from './types.js';
export * from './memory/sqlite.js';
export { MIGRATIONS, LATEST_SCHEMA_VERSION } from './memory/migrations/index.js';
export type { Migration } from './memory/migrations/index.js';
