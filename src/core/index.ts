/** The provider contract, errors and logging: everything that knows nothing of transport. */
export * from './types.js';
export * from './context-fit.js';
export * from './errors.js';
export * from './logger.js';
