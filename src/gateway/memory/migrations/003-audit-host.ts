import type { Migration } from './index.js';

/**
 * The host of an audit row: with an Ollama fleet, one provider attempt may try several servers,
 * and each tried server gets its own row naming it. Rows stored before this step have no host.
 */
export const auditHost: Migration = {
  version: 3,
  name: 'audit-host',
  sql: `
ALTER TABLE audit ADD COLUMN host TEXT;
`,
};
