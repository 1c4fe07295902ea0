/**
 * The memory schema's migrations, oldest first. A migration is never edited once released:
 * a change to the schema is a new entry with the next version number.
 */
import { initial } from './001-initial.js';
import { tokenCounts } from './002-token-counts.js';
import { auditHost } from './003-audit-host.js';

/** One schema step; `sql` runs inside the same transaction that records `version`. */
export interface Migration {
  /** 1, 2, 3, ... without gaps. */
  version: number;
  /** Short label stored next to the version, for people reading the database. */
  name: string;
  sql: string;
}

/** Every migration, in the order they are applied. */
export const MIGRATIONS: readonly Migration[] = [initial, tokenCounts, auditHost];

/** The schema version a fully migrated database has. */
export const LATEST_SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
