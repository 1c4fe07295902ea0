/** Omega's configuration: types, loading and validation, and `OLLAMA_HOST` parsing. */
export * from './types.js';
export * from './load.js';
export * from './ollama-host.js';
