/** Transport helpers shared by network providers: undici pools, phase timeouts, cancellation, NDJSON lines, SSE events. */
export * from './errors.js';
export * from './ndjson.js';
export * from './retry-after.js';
export * from './sse.js';
export * from './transport.js';
