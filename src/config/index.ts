/** Omega's configuration: types, loading and validation, and `OLLAMA_HOST` parsing. */
export * from './types.js';
export * from './load.js';
export * from './ollama-host.js';
export { Section } from './section.js';
export type { NumberRule, ValueSource } from './section.js';
export type { KeyType, NestedSchema, TableSchema } from './schema.js';
