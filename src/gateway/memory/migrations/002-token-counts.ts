import type { Migration } from './index.js';

/**
 * Token accounting: each message's token count and where it came from (`server`: counted by the
 * model's server; `estimate`: the calibrated estimate), and the estimator's calibration per model,
 * so a new process starts from what earlier ones learned. Rows stored before this step have no
 * count; the gateway estimates them when it reads them.
 */
export const tokenCounts: Migration = {
  version: 2,
  name: 'token-counts',
  sql: `
ALTER TABLE messages ADD COLUMN tokens INTEGER CHECK (tokens IS NULL OR tokens >= 0);
ALTER TABLE messages ADD COLUMN token_source TEXT CHECK (token_source IS NULL OR token_source IN ('server', 'estimate'));

-- Keyed by "<provider>/<model>": characters and tokens of observed prompts (sums that decay).
CREATE TABLE token_calibration (
  model      TEXT PRIMARY KEY NOT NULL,
  chars      REAL NOT NULL CHECK (chars > 0),
  tokens     REAL NOT NULL CHECK (tokens > 0),
  samples    INTEGER NOT NULL CHECK (samples > 0),
  updated_at TEXT NOT NULL
);
`,
};
