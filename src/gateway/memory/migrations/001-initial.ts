import type { Migration } from './index.js';

/** The first schema: conversations, their messages, and the audit trail of every provider attempt. */
export const initial: Migration = {
  version: 1,
  name: 'initial',
  sql: `
CREATE TABLE conversations (
  id         TEXT PRIMARY KEY NOT NULL,
  channel    TEXT NOT NULL,
  title      TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE messages (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  role            TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
  content         TEXT NOT NULL,
  thinking        TEXT,
  tool_calls      TEXT CHECK (tool_calls IS NULL OR json_valid(tool_calls)),
  sender          TEXT,
  provider        TEXT,
  model           TEXT,
  created_at      TEXT NOT NULL,
  interrupted     INTEGER NOT NULL DEFAULT 0 CHECK (interrupted IN (0, 1)),
  metadata        TEXT CHECK (metadata IS NULL OR json_valid(metadata))
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);

-- No foreign key on purpose: forgetting a conversation keeps its audit trail.
CREATE TABLE audit (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  ts                TEXT NOT NULL,
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
`,
};
