/** Plumbing every network provider shares: error mapping as data, request shapes, and the stream body loop. */
export * from './body.js';
export * from './context.js';
export * from './failures.js';
export * from './http-errors.js';
export * from './request.js';
export * from './stream-body.js';
export * from './sse-framer.js';
