/**
 * The PostgreSQL memory schema's migrations, oldest first. Like the SQLite ones, a released
 * migration is never edited: a schema change is a new entry with the next version number.
 * Version 1 is the whole SQLite schema at version 2 (conversations, messages with token counts,
 * audit, token calibration) plus a per-conversation sequence that keeps concurrent writers
 * from different instances in order.
 */
import type { Migration } from '../migrations/index.js';

const initial: Migration = {
  version: 1,
  name: 'initial',
  sql: `
CREATE TABLE conversations (
  id         TEXT PRIMARY KEY,
  channel    TEXT NOT NULL,
  title      TEXT,
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL,
  -- The seq the next stored message gets; bumped under the row lock, so writers queue per conversation.
  next_seq   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX conversations_by_update ON conversations(updated_at DESC, id);

CREATE TABLE messages (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  seq             BIGINT NOT NULL,
  role            TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
  content         TEXT NOT NULL,
  thinking        TEXT,
  tool_calls      JSONB,
  sender          TEXT,
  provider        TEXT,
  model           TEXT,
  created_at      TIMESTAMPTZ NOT NULL,
  interrupted     BOOLEAN NOT NULL DEFAULT FALSE,
  metadata        JSONB,
  tokens          INTEGER CHECK (tokens IS NULL OR tokens >= 0),
  token_source    TEXT CHECK (token_source IS NULL OR token_source IN ('server', 'estimate')),
  UNIQUE (conversation_id, seq)
);

-- No foreign key on purpose: forgetting a conversation keeps its audit trail.
CREATE TABLE audit (
  id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts                TIMESTAMPTZ NOT NULL,
  channel           TEXT NOT NULL,
  conversation_id   TEXT NOT NULL,
  sender            TEXT NOT NULL,
  provider          TEXT NOT NULL,
  model             TEXT,
  outcome           TEXT NOT NULL,
  error_code        TEXT,
  error_message     TEXT,
  prompt_tokens     INTEGER,
  completion_tokens INTEGER,
  duration_ms       INTEGER NOT NULL
);
CREATE INDEX audit_by_conversation ON audit(conversation_id, id);

-- Keyed by "<provider>/<model>": characters and tokens of observed prompts (sums that decay).
CREATE TABLE token_calibration (
  model      TEXT PRIMARY KEY,
  chars      DOUBLE PRECISION NOT NULL CHECK (chars > 0),
  tokens     DOUBLE PRECISION NOT NULL CHECK (tokens > 0),
  samples    INTEGER NOT NULL CHECK (samples > 0),
  updated_at TIMESTAMPTZ NOT NULL
);
`,
};

/** The host of an audit row (one per server an Ollama fleet tried); older rows have none. */
const auditHost: Migration = {
  version: 2,
  name: 'audit-host',
  sql: `
ALTER TABLE audit ADD COLUMN host TEXT;
`,
};

/** Every PostgreSQL migration, in the order they are applied. */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [initial, auditHost];

/** The schema version a fully migrated PostgreSQL database has. */
export const POSTGRES_SCHEMA_VERSION: number = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]?.version ?? 0;
